package scenarios

import (
	"testing"
	"time"
)

// TestNagleControl checks the behaviour the scenario exists to show: with
// NODELAY off nearly every write-write-read exchange waits for the delayed
// ACK; with NODELAY on, or QUICKACK set before the read, nearly none does.
func TestNagleControl(t *testing.T) {
	p := &NagleParams{Variants: nagleVariants, Exchanges: 10, Warmup: 2, First: 16, Second: 48, Stall: 30 * time.Millisecond}
	r := tcpRunScenario(t, "nagle", p)
	if !r.Valid {
		t.Fatalf("nagle: Valid = false (%s), want true", r.Invalid)
	}
	tests := []struct {
		variant    string
		minStalled float64
		maxStalled float64
	}{
		{NagleOff, 0.8, 1},
		{NagleOn, 0, 0.2},
		{NagleQuickAck, 0, 0.2},
	}
	for _, tt := range tests {
		got := tcpMetric(t, r, tt.variant+".stalled")
		if got < tt.minStalled || got > tt.maxStalled {
			t.Errorf("nagle: %s.stalled = %v, want in [%v, %v]", tt.variant, got, tt.minStalled, tt.maxStalled)
		}
	}
	if got := tcpMetric(t, r, NagleOff+".p50"); got < 30e6 {
		t.Errorf("nagle: %s.p50 = %v ns, want >= 30 ms", NagleOff, got)
	}
	if got := tcpMetric(t, r, NagleOff+".exchanges"); got != 10 {
		t.Errorf("nagle: %s.exchanges = %v, want 10", NagleOff, got)
	}
}

func TestNagleValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *NagleParams)
		field string
	}{
		{"defaults", func(p *NagleParams) {}, ""},
		{"one variant", func(p *NagleParams) { p.Variants = []string{NagleOn} }, ""},
		{"no variants", func(p *NagleParams) { p.Variants = nil }, "variants"},
		{"unknown variant", func(p *NagleParams) { p.Variants = []string{"nodelay"} }, "variants"},
		{"twice", func(p *NagleParams) { p.Variants = []string{NagleOn, NagleOn} }, "variants"},
		{"no exchanges", func(p *NagleParams) { p.Exchanges = 0 }, "exchanges"},
		{"negative warmup", func(p *NagleParams) { p.Warmup = -1 }, "warmup"},
		{"empty first", func(p *NagleParams) { p.First = 0 }, "first"},
		{"huge second", func(p *NagleParams) { p.Second = 1 << 20 }, "second"},
		{"zero stall", func(p *NagleParams) { p.Stall = 0 }, "stall"},
	}
	for _, tt := range tests {
		p := NagleParams{Variants: nagleVariants, Exchanges: 20, Warmup: 2, First: 16, Second: 48, Stall: 30 * time.Millisecond}
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}
