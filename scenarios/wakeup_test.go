package scenarios

import (
	"strings"
	"testing"
)

func TestWakeupValidate(t *testing.T) {
	good := WakeupParams{MessageThreads: 2, Workers: 2, DurationMs: 100, RequestLoops: 10}
	tests := []struct {
		name  string
		edit  func(*WakeupParams)
		field string // "" = valid
	}{
		{"good", func(*WakeupParams) {}, ""},
		{"workers per CPU", func(p *WakeupParams) { p.Workers = 0 }, ""},
		{"no message threads", func(p *WakeupParams) { p.MessageThreads = 0 }, "message_threads"},
		{"negative workers", func(p *WakeupParams) { p.Workers = -1 }, "workers"},
		{"short window", func(p *WakeupParams) { p.DurationMs = 1 }, "duration_ms"},
		{"negative work", func(p *WakeupParams) { p.RequestLoops = -5 }, "request_loops"},
	}
	for _, tt := range tests {
		p := good
		tt.edit(&p)
		err := p.Validate()
		if tt.field == "" && err != nil {
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		}
		if tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", tt.name, err, tt.field)
		}
	}
	schedCheckDefaults(t, "wakeup")
}

func TestWakeupRun(t *testing.T) {
	r := runSched(t, "wakeup", &WakeupParams{MessageThreads: 2, Workers: 2, DurationMs: 300, RequestLoops: 500})
	if !r.Valid {
		t.Fatalf("wakeup invalid: %s", r.Invalid)
	}
	if got := schedGet(t, r, "requests_per_s").Value; got < 100 {
		t.Errorf("requests_per_s = %v, want >= 100", got)
	}
	p50, p99 := schedGet(t, r, "wakeup.p50"), schedGet(t, r, "wakeup.p99")
	if p50.Value <= 0 || p99.Value < p50.Value || !p50.Timing {
		t.Errorf("wakeup.p50 = %v, p99 = %v (timing %v), want 0 < p50 <= p99, timing", p50.Value, p99.Value, p50.Timing)
	}
	if req := schedGet(t, r, "request.p50").Value; req < p50.Value {
		t.Errorf("request.p50 = %v, want >= wakeup.p50 %v (a request includes its wakeup)", req, p50.Value)
	}
	vol := schedGet(t, r, "switches.voluntary_per_request")
	if vol.Timing || vol.Value <= 0 || vol.Value > 10 {
		t.Errorf("switches.voluntary_per_request = %v (timing %v), want in (0, 10], not timing", vol.Value, vol.Timing)
	}
	if len(r.Histograms) != 2 {
		t.Errorf("histograms = %d, want 2", len(r.Histograms))
	}
}
