package scenarios

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// tcpTestEnv is the host as a scenario sees it.
func tcpTestEnv(t *testing.T) Env {
	return Env{CPUs: runtime.NumCPU(), Seed: 1, Logf: t.Logf}
}

// tcpRunScenario runs a registered scenario with params and checks the result
// is well formed.
func tcpRunScenario(t *testing.T, name string, params any) *results.Scenario {
	t.Helper()
	s, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := s.Run(ctx, tcpTestEnv(t), params)
	if err != nil {
		t.Fatalf("%s: Run() error %v", name, err)
	}
	if r.Name != name {
		t.Errorf("%s: Name = %q, want %q", name, r.Name, name)
	}
	if r.Duration <= 0 {
		t.Errorf("%s: Duration = %v, want > 0", name, r.Duration)
	}
	for _, m := range r.Metrics {
		if m.Name == "" || m.Unit == "" || m.Better == "" {
			t.Errorf("%s: metric %+v lacks a name, unit or direction", name, m)
		}
	}
	t.Logf("%s: valid=%v %s in %v", name, r.Valid, r.Invalid, r.Duration)
	for _, m := range r.Metrics {
		t.Logf("  %-40s %12.1f %s", m.Name, m.Value, m.Unit)
	}
	return r
}

// tcpMetric returns the value of the metric called name.
func tcpMetric(t *testing.T, r *results.Scenario, name string) float64 {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	var names []string
	for _, m := range r.Metrics {
		names = append(names, m.Name)
	}
	t.Fatalf("%s: no metric %q (have %s)", r.Name, name, strings.Join(names, ", "))
	return 0
}

func TestTCPRR(t *testing.T) {
	r := tcpRunScenario(t, "tcp-rr", &TCPRRParams{Duration: 200 * time.Millisecond, Warmup: 100, Size: 64})
	if !r.Valid {
		t.Fatalf("tcp-rr: Valid = false (%s), want true", r.Invalid)
	}
	if got := tcpMetric(t, r, "transactions"); got < 100 {
		t.Errorf("tcp-rr: transactions = %v ops/s, want >= 100", got)
	}
	if got := tcpMetric(t, r, "rtt.p50"); got <= 0 || got > 10e6 {
		t.Errorf("tcp-rr: rtt.p50 = %v ns, want in (0, 10ms]", got)
	}
	if len(r.Histograms) != 1 || !strings.HasPrefix(r.Histograms[0].Encoded, "HISTF") {
		t.Errorf("tcp-rr: histograms = %+v, want one HISTF... histogram", r.Histograms)
	}
}

func TestTCPRRValidate(t *testing.T) {
	ok := TCPRRParams{Duration: time.Second, Warmup: 1, Size: 64}
	tests := []struct {
		name  string
		edit  func(p *TCPRRParams)
		field string // "" means valid
	}{
		{"defaults", func(p *TCPRRParams) {}, ""},
		{"zero duration", func(p *TCPRRParams) { p.Duration = 0 }, "duration"},
		{"negative warmup", func(p *TCPRRParams) { p.Warmup = -1 }, "warmup"},
		{"zero size", func(p *TCPRRParams) { p.Size = 0 }, "size"},
		{"huge size", func(p *TCPRRParams) { p.Size = 1 << 30 }, "size"},
	}
	for _, tt := range tests {
		p := ok
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}

// tcpCheckValidate checks that err names field, or is nil when field is "".
func tcpCheckValidate(t *testing.T, name string, err error, field string) {
	t.Helper()
	switch {
	case field == "" && err != nil:
		t.Errorf("%s: Validate() = %v, want nil", name, err)
	case field != "" && err == nil:
		t.Errorf("%s: Validate() = nil, want an error naming %s", name, field)
	case field != "" && !strings.HasPrefix(err.Error(), field+":"):
		t.Errorf("%s: Validate() = %v, want an error naming %s", name, err, field)
	}
}

// TestTCPDefaultsValidate checks every profile's defaults of the TCP and exec
// scenarios validate and round-trip through JSON as the agent receives them.
func TestTCPDefaultsValidate(t *testing.T) {
	for _, name := range []string{"tcp-rr", "nagle", "idle-restart", "tcp-crr", "small-msgs"} {
		s, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, prof := range []string{Quick, Full} {
			p := s.Defaults(prof)
			if v, ok := p.(Validator); ok {
				if err := v.Validate(); err != nil {
					t.Errorf("%s %s: Validate() = %v, want nil", name, prof, err)
				}
			} else {
				t.Errorf("%s: %T does not implement Validator", name, p)
			}
		}
	}
}
