package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecode: the guest's parameters are the profile's defaults with the
// host's values over them; an unknown field or a bad value is an error.
func TestDecode(t *testing.T) {
	spec, err := Lookup("pipe")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw, profile string
		want         PipeParams
		err          string
	}{
		{"", Quick, PipeParams{DurationMs: 250, CPU: 0, OtherCPU: 1}, ""},
		{"null", Full, PipeParams{DurationMs: 10_000, CPU: 0, OtherCPU: 1}, ""},
		{`{"other_cpu": 3}`, Full, PipeParams{DurationMs: 10_000, CPU: 0, OtherCPU: 3}, ""},
		{`{"messages": 3}`, Quick, PipeParams{}, "unknown field"},
		{`{"other_cpu": 0}`, Quick, PipeParams{}, "must differ"},
	}
	for _, tt := range tests {
		got, err := spec.Decode(tt.profile, json.RawMessage(tt.raw))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Decode(%s, %q) = %v, want an error containing %q", tt.profile, tt.raw, err, tt.err)
			}
			continue
		}
		if p, ok := got.(*PipeParams); err != nil || !ok || *p != tt.want {
			t.Errorf("Decode(%s, %q) = %+v, %v; want %+v", tt.profile, tt.raw, got, err, tt.want)
		}
	}
}

// TestRegisteredRunChecksParams: every scenario's Run refuses parameters of
// another type before it measures anything.
func TestRegisteredRunChecksParams(t *testing.T) {
	for _, s := range All() {
		if _, err := s.Run(t.Context(), Env{CPUs: 1}, &struct{}{}); err == nil || !strings.Contains(err.Error(), s.Name+": params of type") {
			t.Errorf("%s: Run(wrong type) = %v, want a params error", s.Name, err)
		}
	}
}

// TestTCPScenarios: the scenarios over loopback TCP say so (a trace of
// them records the TCP events); the others do not.
func TestTCPScenarios(t *testing.T) {
	var got []string
	for _, s := range All() {
		if s.TCP {
			got = append(got, s.Name)
		}
	}
	if want := []string{"idle-restart", "nagle", "small-msgs", "tcp-crr", "tcp-rr"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("TCP scenarios %v, want %v", got, want)
	}
}

// TestEveryScenarioSaysItsReference: the scenario reference names, for
// every scenario, the tool it was checked against and the ratios seen, or
// why there is none.
func TestEveryScenarioSaysItsReference(t *testing.T) {
	for _, s := range All() {
		if CheckedAgainst(s.Name) == "" {
			t.Errorf("scenario %s: no entry in checkedAgainst (checked.go): name the reference tool and the ratios, or why there is none", s.Name)
		}
	}
	for name := range checkedAgainst {
		if _, err := Lookup(name); err != nil {
			t.Errorf("checkedAgainst names %s, which is not a scenario", name)
		}
	}
}
