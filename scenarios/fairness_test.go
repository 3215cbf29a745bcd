package scenarios

import (
	"math"
	"strings"
	"testing"
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

func TestFairnessRun(t *testing.T) {
	r := runSched(t, "fairness", &FairnessParams{CPU: 1, Nice: 5, NiceMs: 600, BatchMs: 300, InteractiveMs: 300, Hogs: 2, SleepUs: 10000, RunUs: 1000})
	if !r.Valid {
		t.Fatalf("fairness invalid: %s", r.Invalid)
	}
	if got, want := schedGet(t, r, "nice.expected").Value, 1024.0/335; got != want {
		t.Errorf("nice.expected = %v, want %v", got, want)
	}
	ratio := schedGet(t, r, "nice.ratio").Value
	if dev := schedGet(t, r, "nice.deviation").Value; dev > FairnessTolerance {
		t.Errorf("nice.ratio = %.3f, deviation %.3f from 3.06, want <= %v", ratio, dev, FairnessTolerance)
	}
	if dev := schedGet(t, r, "batch.deviation").Value; dev > FairnessTolerance {
		t.Errorf("batch.ratio = %.3f, deviation %.3f from 1, want <= %v", schedGet(t, r, "batch.ratio").Value, dev, FairnessTolerance)
	}
	// The interactive task wakes every ~11 ms: about 27 wakeups in 300 ms.
	lat := schedGet(t, r, "interactive.p50")
	if lat.Samples < 10 || lat.Value <= 0 || !lat.Timing {
		t.Errorf("interactive.p50 = %v over %d samples (timing %v), want > 0 over >= 10, timing", lat.Value, lat.Samples, lat.Timing)
	}
	if share := schedGet(t, r, "interactive.cpu_share").Value; share <= 0 || share > 0.2 {
		t.Errorf("interactive.cpu_share = %v, want in (0, 0.2] (1 ms per 11 ms)", share)
	}
}
