package scenarios

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/kvet/kvet/results"
)

// runSched runs scenario name with p directly in the test process and checks
// what every scheduler scenario's result must satisfy.
func runSched(t *testing.T, name string, p any) *results.Scenario {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mlockall, SCHED_FIFO, nice)")
	}
	spec, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	gc := debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	procs := runtime.GOMAXPROCS(0)
	env := Env{CPUs: runtime.NumCPU(), Seed: 1, Logf: t.Logf}
	r, err := spec.Run(context.Background(), env, p)
	if err != nil {
		t.Fatalf("%s Run = %v", name, err)
	}
	if got := debug.SetGCPercent(gc); got != gc {
		t.Errorf("%s Run left GC percent %d, want %d", name, got, gc)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("%s Run left GOMAXPROCS %d, want %d", name, got, procs)
	}
	if r.Name != name {
		t.Errorf("result name = %q, want %q", r.Name, name)
	}
	if len(r.Params) == 0 {
		t.Errorf("%s result has no params", name)
	}
	seen := map[string]bool{}
	for _, m := range r.Metrics {
		if seen[m.Name] {
			t.Errorf("%s metric %s appears twice", name, m.Name)
		}
		seen[m.Name] = true
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			t.Errorf("%s metric %s = %v, want a finite value", name, m.Name, m.Value)
		}
		if m.Unit == "" || m.Better == "" {
			t.Errorf("%s metric %s has unit %q, direction %q", name, m.Name, m.Unit, m.Better)
		}
	}
	t.Logf("%s took %v, valid=%v %s", name, r.Duration, r.Valid, r.Invalid)
	for _, m := range r.Metrics {
		t.Logf("  %-40s %14.4g %s", m.Name, m.Value, m.Unit)
	}
	return r
}

// schedGet returns the value of the metric called name, failing when absent.
func schedGet(t *testing.T, r *results.Scenario, name string) results.Metric {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("%s: no metric %q", r.Name, name)
	return results.Metric{}
}

// schedCheckDefaults verifies that both profiles' defaults validate.
func schedCheckDefaults(t *testing.T, name string) {
	t.Helper()
	spec, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Measures == "" || spec.Catches == "" {
		t.Errorf("%s: Measures or Catches empty", name)
	}
	for _, prof := range []string{Quick, Full} {
		p := spec.Defaults(prof)
		v, ok := p.(Validator)
		if !ok {
			t.Fatalf("%s defaults %T do not implement Validator", name, p)
		}
		if err := v.Validate(); err != nil {
			t.Errorf("%s %s defaults: Validate() = %v, want nil", name, prof, err)
		}
	}
}

func TestSchedParams(t *testing.T) {
	tests := []struct {
		name    string
		params  any
		wantErr string // "" = no error
	}{
		{"valid", &PipeParams{DurationMs: 100, CPU: 0, OtherCPU: 1}, ""},
		{"wrong type", &WakeupParams{}, "want *scenarios.PipeParams"},
		{"nil pointer", (*PipeParams)(nil), "want *scenarios.PipeParams"},
		{"invalid values", &PipeParams{DurationMs: 1, CPU: 0, OtherCPU: 1}, "duration_ms"},
	}
	for _, tt := range tests {
		_, err := paramsOf[PipeParams]("pipe", tt.params)
		if tt.wantErr == "" && err != nil {
			t.Errorf("%s: paramsOf = %v, want nil", tt.name, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: paramsOf = %v, want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
}
