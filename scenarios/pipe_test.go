package scenarios

import (
	"math"
	"runtime"
	"strings"
	"testing"
)

func TestPipeValidate(t *testing.T) {
	good := PipeParams{DurationMs: 100, CPU: 0, OtherCPU: 1}
	tests := []struct {
		name  string
		edit  func(*PipeParams)
		field string // "" = valid
	}{
		{"good", func(*PipeParams) {}, ""},
		{"short window", func(p *PipeParams) { p.DurationMs = 0 }, "duration_ms"},
		{"negative cpu", func(p *PipeParams) { p.CPU = -1 }, "cpu"},
		{"negative other", func(p *PipeParams) { p.OtherCPU = -1 }, "other_cpu"},
		{"same cpus", func(p *PipeParams) { p.OtherCPU = 0 }, "other_cpu"},
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
	schedCheckDefaults(t, "pipe")
}

func TestPipeRun(t *testing.T) {
	r := runSched(t, "pipe", &PipeParams{DurationMs: 100, CPU: 0, OtherCPU: 1})
	if !r.Valid {
		t.Fatalf("pipe invalid: %s", r.Invalid)
	}
	variants := []string{"pipe-same", "futex-same"}
	if runtime.NumCPU() >= 2 {
		variants = append(variants, "pipe-cross", "futex-cross")
		if len(r.Notes) != 0 {
			t.Errorf("Notes = %q with %d CPUs, want none", r.Notes, runtime.NumCPU())
		}
	}
	for _, v := range variants {
		rate := schedGet(t, r, v+".round_trips_per_s").Value
		p50 := schedGet(t, r, v+".p50").Value
		mean := schedGet(t, r, v+".mean").Value
		max := schedGet(t, r, v+".max").Value
		// A round trip is two wakeups: more than 100 ns on any machine. How
		// long it takes depends on the host's load (a loaded 2-core machine
		// gives tens of milliseconds across CPUs), so the upper checks are
		// the measurement's own consistency: the round trips run back to
		// back, so the rate and the mean latency describe the same window.
		if p50 < 100 || p50 > max {
			t.Errorf("%s.p50 = %v ns, want at least 100 ns and at most max %v", v, p50, max)
		}
		if busy := rate * mean / 1e9; rate <= 0 || busy < 0.3 || busy > 1.05 {
			t.Errorf("%s: %v round trips/s x mean %v ns = %.2f of the window, want 0.3 .. 1.05", v, rate, mean, busy)
		}
		// Every window records kvet's self-noise (a 100 ms window is too
		// short for the bound to judge: the process's start shows in it).
		if sw := schedGet(t, r, v+".selfnoise.switches").Value; sw < 0 || math.IsNaN(sw) || math.IsInf(sw, 0) {
			t.Errorf("%s.selfnoise.switches = %v, want a rate", v, sw)
		}
	}
}

func TestPipeCrossSkipped(t *testing.T) {
	// With other_cpu beyond the CPUs the cross variants are skipped and say so.
	r := runSched(t, "pipe", &PipeParams{DurationMs: 20, CPU: 0, OtherCPU: 4095})
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "skipped") {
		t.Errorf("Notes = %q, want one note saying the cross variants were skipped", r.Notes)
	}
	for _, m := range r.Metrics {
		if strings.HasSuffix(m.Name, "-cross.p50") {
			t.Errorf("metric %s present although the cross variants were skipped", m.Name)
		}
	}
}
