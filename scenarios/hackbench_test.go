package scenarios

import (
	"strings"
	"testing"
)

func TestHackbenchValidate(t *testing.T) {
	good := HackbenchParams{Groups: 1, Senders: 2, Receivers: 2, Loops: 10}
	tests := []struct {
		name  string
		edit  func(*HackbenchParams)
		field string // "" = valid
	}{
		{"good", func(*HackbenchParams) {}, ""},
		{"no groups", func(p *HackbenchParams) { p.Groups = 0 }, "groups"},
		{"no senders", func(p *HackbenchParams) { p.Senders = 0 }, "senders"},
		{"no receivers", func(p *HackbenchParams) { p.Receivers = -3 }, "receivers"},
		{"too many threads", func(p *HackbenchParams) { p.Groups, p.Senders, p.Receivers = 100, 100, 100 }, "threads"},
		{"no loops", func(p *HackbenchParams) { p.Loops = 0 }, "loops"},
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
	schedCheckDefaults(t, "hackbench")
}

func TestHackbenchRun(t *testing.T) {
	p := &HackbenchParams{Groups: 2, Senders: 3, Receivers: 3, Loops: 50}
	r := runSched(t, "hackbench", p)
	if !r.Valid {
		t.Fatalf("hackbench invalid: %s", r.Invalid)
	}
	ms := schedGet(t, r, "time")
	if ms.Value <= 0 || ms.Value > 60_000 || !ms.Timing {
		t.Errorf("time = %v ms (timing %v), want in (0, 60000], timing", ms.Value, ms.Timing)
	}
	msgs := float64(p.Groups * p.Senders * p.Receivers * p.Loops)
	if got, want := schedGet(t, r, "messages_per_s").Value, msgs/(ms.Value/1e3); got < want*0.99 || got > want*1.01 {
		t.Errorf("messages_per_s = %v, want %v (messages / time)", got, want)
	}
	// Receivers block when their socket is empty: some switches must be
	// counted, and fewer than a handful per 100-byte message.
	sw := schedGet(t, r, "switches_per_message")
	if sw.Timing || sw.Value <= 0 || sw.Value > 10 {
		t.Errorf("switches_per_message = %v (timing %v), want in (0, 10], not timing", sw.Value, sw.Timing)
	}
	vol, invol := schedGet(t, r, "switches.voluntary").Value, schedGet(t, r, "switches.involuntary").Value
	if got := (vol + invol) / msgs; got != sw.Value {
		t.Errorf("(voluntary %v + involuntary %v) / %v = %v, want switches_per_message %v", vol, invol, msgs, got, sw.Value)
	}
}
