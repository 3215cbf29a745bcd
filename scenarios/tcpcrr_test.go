package scenarios

import (
	"testing"
	"time"
)

func TestTCPCRR(t *testing.T) {
	r := tcpRunScenario(t, "tcp-crr", &TCPCRRParams{Duration: 300 * time.Millisecond, Warmup: 10, Size: 64})
	if !r.Valid {
		t.Fatalf("tcp-crr: Valid = false (%s), want true", r.Invalid)
	}
	if got := tcpMetric(t, r, "transactions"); got < 50 {
		t.Errorf("tcp-crr: transactions = %v ops/s, want >= 50", got)
	}
	if got := tcpMetric(t, r, "latency.p50"); got <= 0 || got > 20e6 {
		t.Errorf("tcp-crr: latency.p50 = %v ns, want in (0, 20ms]", got)
	}
}

func TestTCPCRRValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *TCPCRRParams)
		field string
	}{
		{"defaults", func(p *TCPCRRParams) {}, ""},
		{"zero duration", func(p *TCPCRRParams) { p.Duration = 0 }, "duration"},
		{"negative warmup", func(p *TCPCRRParams) { p.Warmup = -1 }, "warmup"},
		{"zero size", func(p *TCPCRRParams) { p.Size = 0 }, "size"},
	}
	for _, tt := range tests {
		p := TCPCRRParams{Duration: time.Second, Warmup: 1, Size: 64}
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}
