package scenarios

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kvet/kvet/results"
)

func TestNiceWeightRatio(t *testing.T) {
	tests := []struct {
		a, b int
		want float64
	}{
		{0, 0, 1},
		{0, 5, 1024.0 / 335},
		{0, 1, 1024.0 / 820},
		{-20, 19, 88761.0 / 15},
	}
	for _, tt := range tests {
		if got := NiceWeightRatio(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("NiceWeightRatio(%d, %d) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	// Each nice level is worth about 10% CPU: neighbouring weights differ by ~1.25.
	for n := -20; n < 19; n++ {
		if got := NiceWeightRatio(n, n+1); got < 1.2 || got > 1.3 {
			t.Errorf("NiceWeightRatio(%d, %d) = %v, want 1.2 .. 1.3", n, n+1, got)
		}
	}
}

func TestFairnessValidate(t *testing.T) {
	good := FairnessParams{CPU: 0, Nice: 5, NiceMs: 100, BatchMs: 100, InteractiveMs: 100, Hogs: 2, SleepUs: 10000, RunUs: 1000}
	tests := []struct {
		name  string
		edit  func(*FairnessParams)
		field string // "" = valid
	}{
		{"good", func(*FairnessParams) {}, ""},
		{"skip batch", func(p *FairnessParams) { p.BatchMs = 0 }, ""},
		{"negative cpu", func(p *FairnessParams) { p.CPU = -2 }, "cpu"},
		{"nice 20", func(p *FairnessParams) { p.Nice = 20 }, "nice"},
		{"nice -21", func(p *FairnessParams) { p.Nice = -21 }, "nice"},
		{"short nice window", func(p *FairnessParams) { p.NiceMs = 5 }, "nice_ms"},
		{"negative batch window", func(p *FairnessParams) { p.BatchMs = -1 }, "batch_ms"},
		{"short interactive window", func(p *FairnessParams) { p.InteractiveMs = 10 }, "interactive_ms"},
		{"nothing to run", func(p *FairnessParams) { p.NiceMs, p.BatchMs, p.InteractiveMs = 0, 0, 0 }, "nothing"},
		{"no hogs", func(p *FairnessParams) { p.Hogs = 0 }, "hogs"},
		{"no sleep", func(p *FairnessParams) { p.SleepUs = 0 }, "sleep_us"},
		{"negative run", func(p *FairnessParams) { p.RunUs = -1 }, "run_us"},
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
	schedCheckDefaults(t, "fairness")
}

// TestFairnessRun measures on the test's own host, which may be loaded: the
// structure of the result must always hold, the measured ratios must hold in
// at least one of a few attempts (other work on a 2-core host can distort
// one window, never every one; a broken scenario fails them all).
func TestFairnessRun(t *testing.T) {
	const attempts = 3
	var problems []string
	for a := 1; a <= attempts; a++ {
		r := runSched(t, "fairness", &FairnessParams{CPU: 1, Nice: 5, NiceMs: 600, BatchMs: 300, InteractiveMs: 300, Hogs: 2, SleepUs: 10000, RunUs: 1000})
		if !r.Valid {
			t.Fatalf("fairness invalid: %s", r.Invalid)
		}
		if got, want := schedGet(t, r, "nice.expected").Value, 1024.0/335; got != want {
			t.Fatalf("nice.expected = %v, want %v", got, want)
		}
		lat := schedGet(t, r, "interactive.p50")
		if lat.Samples < 1 || lat.Value <= 0 || !lat.Timing {
			t.Fatalf("interactive.p50 = %v over %d samples (timing %v), want > 0 over >= 1, timing", lat.Value, lat.Samples, lat.Timing)
		}
		problems = fairnessProblems(r)
		if len(problems) == 0 {
			return
		}
		t.Logf("attempt %d of %d: %s", a, attempts, strings.Join(problems, "; "))
	}
	t.Errorf("fairness measured outside its tolerances in all %d attempts; last: %s", attempts, strings.Join(problems, "; "))
}

// fairnessProblems lists what a fairness result measured outside what CFS
// guarantees.
func fairnessProblems(r *results.Scenario) []string {
	get := func(name string) results.Metric {
		for _, m := range r.Metrics {
			if m.Name == name {
				return m
			}
		}
		return results.Metric{Value: math.NaN()}
	}
	var ps []string
	if dev := get("nice.deviation").Value; !(dev <= FairnessTolerance) {
		ps = append(ps, fmt.Sprintf("nice.ratio = %.3f, deviation %.3f from 3.06, want <= %v", get("nice.ratio").Value, dev, FairnessTolerance))
	}
	if dev := get("batch.deviation").Value; !(dev <= FairnessTolerance) {
		ps = append(ps, fmt.Sprintf("batch.ratio = %.3f, deviation %.3f from 1, want <= %v", get("batch.ratio").Value, dev, FairnessTolerance))
	}
	// The interactive task wakes every ~11 ms: about 27 wakeups in 300 ms
	// on a quiet CPU.
	if n := get("interactive.p50").Samples; n < 10 {
		ps = append(ps, fmt.Sprintf("interactive task woke %d times in 300 ms, want >= 10", n))
	}
	if share := get("interactive.cpu_share").Value; !(share > 0 && share <= 0.2) {
		ps = append(ps, fmt.Sprintf("interactive.cpu_share = %v, want in (0, 0.2] (1 ms per 11 ms)", share))
	}
	return ps
}
