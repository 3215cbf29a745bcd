package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/scenarios/measure"
)

// TestIdleRestartControl checks the behaviour the scenario exists to show:
// with tcp_slow_start_after_idle=1 cubic's cwnd falls back to the initial
// window (10) after an idle period longer than the RTO; with 0 it keeps it.
// A congestion control the kernel lacks is a note, not a failure.
func TestIdleRestartControl(t *testing.T) {
	orig, err := measure.ReadSysctl(ssaiSysctl)
	if err != nil {
		t.Skipf("no %s: %v", ssaiSysctl, err)
	}
	if err := measure.WriteSysctl(ssaiSysctl, orig); err != nil {
		t.Skipf("cannot write %s (not root?): %v", ssaiSysctl, err)
	}
	p := &IdleRestartParams{Congestion: []string{"cubic", "kvetnone"}, ToggleSysctl: true, Rounds: 1,
		Idle: time.Second, Bulk: 8 << 20, Burst: 1 << 20}
	r := tcpRunScenario(t, "idle-restart", p)
	if !r.Valid {
		t.Fatalf("idle-restart: Valid = false (%s), want true", r.Invalid)
	}
	if got, _ := measure.ReadSysctl(ssaiSysctl); got != orig {
		t.Errorf("idle-restart: %s = %s after the run, want it restored to %s", ssaiSysctl, got, orig)
	}
	before1 := tcpMetric(t, r, "cubic.ssai1.cwnd_before")
	after1 := tcpMetric(t, r, "cubic.ssai1.cwnd_after")
	before0 := tcpMetric(t, r, "cubic.ssai0.cwnd_before")
	after0 := tcpMetric(t, r, "cubic.ssai0.cwnd_after")
	if before1 < 16 || before0 < 16 {
		t.Fatalf("idle-restart: cwnd_before = %v (ssai1), %v (ssai0), want >= 16: the bulk did not grow cwnd", before1, before0)
	}
	if after1 > 11 {
		t.Errorf("idle-restart: cubic.ssai1.cwnd_after = %v, want <= 11 (restart to the initial window)", after1)
	}
	if after0 < 0.9*before0 {
		t.Errorf("idle-restart: cubic.ssai0.cwnd_after = %v, want >= 0.9 * cwnd_before %v", after0, before0)
	}
	if got := tcpMetric(t, r, "cubic.ssai0.burst"); got <= 0 {
		t.Errorf("idle-restart: cubic.ssai0.burst = %v, want > 0", got)
	}
	// The unsuffixed metrics are the host's own setting, whatever it is.
	if got, want := tcpMetric(t, r, "cubic.cwnd_after"), tcpMetric(t, r, "cubic.ssai"+orig+".cwnd_after"); got != want {
		t.Errorf("idle-restart: cubic.cwnd_after = %v, want the ssai=%s run's %v", got, orig, want)
	}
	var skipped bool
	for _, n := range r.Notes {
		skipped = skipped || strings.HasPrefix(n, "kvetnone: skipped")
	}
	if !skipped {
		t.Errorf("idle-restart: Notes = %q, want a note that kvetnone was skipped", r.Notes)
	}
	for _, m := range r.Metrics {
		if strings.HasPrefix(m.Name, "kvetnone.") {
			t.Errorf("idle-restart: metric %s for an unavailable congestion control", m.Name)
		}
	}
}

func TestIdleRestartValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *IdleRestartParams)
		field string
	}{
		{"defaults", func(p *IdleRestartParams) {}, ""},
		{"bbr too", func(p *IdleRestartParams) { p.Congestion = []string{"cubic", "bbr"} }, ""},
		{"no cc", func(p *IdleRestartParams) { p.Congestion = nil }, "congestion"},
		{"bad cc", func(p *IdleRestartParams) { p.Congestion = []string{"Cubic!"} }, "congestion"},
		{"cc twice", func(p *IdleRestartParams) { p.Congestion = []string{"bbr", "bbr"} }, "congestion"},
		{"no rounds", func(p *IdleRestartParams) { p.Rounds = 0 }, "rounds"},
		{"idle below rto", func(p *IdleRestartParams) { p.Idle = 100 * time.Millisecond }, "idle"},
		{"small bulk", func(p *IdleRestartParams) { p.Bulk = 1000 }, "bulk"},
		{"no burst", func(p *IdleRestartParams) { p.Burst = 0 }, "burst"},
	}
	for _, tt := range tests {
		p := IdleRestartParams{Congestion: []string{"cubic"}, ToggleSysctl: true, Rounds: 1,
			Idle: time.Second, Bulk: 8 << 20, Burst: 1 << 20}
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}

func TestIdleFor(t *testing.T) {
	for _, tt := range []struct {
		atLeast time.Duration
		cwnd    uint32
		rtoUs   uint32
		want    time.Duration
	}{
		{time.Second, 41, 204000, time.Second},              // 3 RTOs fit in the minimum
		{time.Second, 41, 500000, 1500 * time.Millisecond},  // 41 -> 20 -> 10 needs 2 halvings, plus one RTO
		{time.Second, 10, 900000, time.Second},              // already at the initial window
		{time.Second, 200, 400000, 2400 * time.Millisecond}, // 200 -> 100 -> 50 -> 25 -> 12 -> 6: 5 halvings
		{time.Second, 1000, 120_000_000, 10 * time.Second},  // an absurd RTO is capped
		{3 * time.Second, 41, 500000, 3 * time.Second},      // a longer minimum wins
	} {
		if got := idleFor(tt.atLeast, tt.cwnd, tt.rtoUs); got != tt.want {
			t.Errorf("idleFor(%v, %d, %d) = %v, want %v", tt.atLeast, tt.cwnd, tt.rtoUs, got, tt.want)
		}
	}
}
