package scenarios

import (
	"testing"
	"time"
)

func TestSmallMsgs(t *testing.T) {
	r := tcpRunScenario(t, "small-msgs", &SmallMsgsParams{Duration: 300 * time.Millisecond, Size: 64})
	if !r.Valid {
		t.Fatalf("small-msgs: Valid = false (%s), want true", r.Invalid)
	}
	if got := tcpMetric(t, r, "messages"); got < 1000 {
		t.Errorf("small-msgs: messages = %v msgs/s, want >= 1000", got)
	}
	// Each write leaves as at most one segment (plus the FIN), and bytes per
	// segment follow from it.
	spm := tcpMetric(t, r, "segs_per_msg")
	if spm <= 0 || spm > 1.01 {
		t.Errorf("small-msgs: segs_per_msg = %v, want in (0, 1.01]", spm)
	}
	if got, want := tcpMetric(t, r, "bytes_per_seg"), 64/spm; got < want*0.99 || got > want*1.01 {
		t.Errorf("small-msgs: bytes_per_seg = %v, want 64/segs_per_msg = %v", got, want)
	}
}

func TestSmallMsgsValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *SmallMsgsParams)
		field string
	}{
		{"defaults", func(p *SmallMsgsParams) {}, ""},
		{"zero duration", func(p *SmallMsgsParams) { p.Duration = 0 }, "duration"},
		{"zero size", func(p *SmallMsgsParams) { p.Size = 0 }, "size"},
		{"huge size", func(p *SmallMsgsParams) { p.Size = 1 << 20 }, "size"},
	}
	for _, tt := range tests {
		p := SmallMsgsParams{Duration: time.Second, Size: 64}
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}
