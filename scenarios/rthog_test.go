package scenarios

import (
	"strings"
	"testing"
)

func TestRTHogValidate(t *testing.T) {
	good := RTHogParams{CPU: 0, WindowMs: 100, PeriodUs: 1000, WorkUs: 100, FIFOPriority: 50}
	tests := []struct {
		name  string
		edit  func(*RTHogParams)
		field string // "" = valid
	}{
		{"good", func(*RTHogParams) {}, ""},
		{"negative cpu", func(p *RTHogParams) { p.CPU = -1 }, "cpu"},
		{"unbounded window", func(p *RTHogParams) { p.WindowMs = 0 }, "window_ms"},
		{"window of one period", func(p *RTHogParams) { p.WindowMs, p.PeriodUs = 10, 9000 }, "window_ms"},
		{"tiny period", func(p *RTHogParams) { p.PeriodUs = 1 }, "period_us"},
		{"work fills the period", func(p *RTHogParams) { p.WorkUs = 1000 }, "work_us"},
		{"priority 0", func(p *RTHogParams) { p.FIFOPriority = 0 }, "fifo_priority"},
		{"priority 100", func(p *RTHogParams) { p.FIFOPriority = 100 }, "fifo_priority"},
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
	schedCheckDefaults(t, "rt-hog")
}

func TestRTHogRun(t *testing.T) {
	const windowMs = 400
	r := runSched(t, "rt-hog", &RTHogParams{CPU: 0, WindowMs: windowMs, PeriodUs: 1000, WorkUs: 100, FIFOPriority: 10})
	if !r.Valid {
		t.Fatalf("rt-hog invalid: %s", r.Invalid)
	}
	worst := schedGet(t, r, "lateness.max")
	// The hog stops itself after the window, so the fair thread is never
	// later than the window plus scheduling slack.
	if worst.Value <= 0 || worst.Value > (windowMs+500)*1e6 {
		t.Errorf("lateness.max = %v ns, want in (0, %v ms]", worst.Value, windowMs+500)
	}
	if p99 := schedGet(t, r, "lateness.p99").Value; p99 > worst.Value {
		t.Errorf("lateness.p99 = %v, want <= lateness.max %v", p99, worst.Value)
	}
	missed := schedGet(t, r, "missed_fraction").Value
	if missed < 0 || missed > 1 {
		t.Errorf("missed_fraction = %v, want in [0, 1]", missed)
	}
	// The hog spins for the window on its CPU: it must get most of it.
	if hog := schedGet(t, r, "hog_cpu_share").Value; hog < 0.5 || hog > 1.05 {
		t.Errorf("hog_cpu_share = %v, want 0.5 .. 1.05", hog)
	}
	if share := schedGet(t, r, "fair_cpu_share").Value; share < 0 || share > 0.2 {
		t.Errorf("fair_cpu_share = %v, want 0 .. 0.2 (work 100 us per 1 ms, under a hog)", share)
	}
	schedGet(t, r, "sched_rt_runtime_us")
}
