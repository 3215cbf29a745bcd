package results

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReplayLooks: the verdicts recomputed from a run directory's boots and
// looks are the ones the run made as it went, each kernel at its deciding
// look; boots that changed since are refused; an adaptive run without a
// look yet is compared once.
func TestReplayLooks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	shift := map[string]float64{"a": 1, "b": 2, "c": 1}
	var boots []*Boot
	boot := func(k string, i int) {
		sc := Scenario{Name: "s", Valid: true}
		v := 1000 * math.Exp(0.05*r.NormFloat64()) * shift[k]
		sc.Metrics = []Metric{{Name: "lat.p50", Unit: "ns", Better: LowerIsBetter, Value: v, Primary: true}}
		boots = append(boots, &Boot{Kernel: k, Index: i, Seq: len(boots), Accel: "kvm", Outcome: OK, Scenarios: []Scenario{sc}})
	}
	opt := SequentialOptions{MaxBoots: 9}
	var looks []RoundRecord
	var prev []Look
	var comps []*Comparison
	more := map[string]bool{"b": true, "c": true}
	for round := 0; round < 3; round++ {
		for i := 0; i < 3; i++ {
			for _, k := range []string{"a", "b", "c"} {
				if k == "a" || more[k] {
					boot(k, round*3+i)
				}
			}
		}
		look, c := NextLook("a", boots, prev, opt)
		prev, comps = append(prev, look), append(comps, c)
		for _, k := range look.Kernels {
			more[k.Kernel] = k.More
		}
		looks = append(looks, RoundRecord{Look: look, Planned: len(boots)})
	}
	looks[len(looks)-1].Stop = "c: undecided at 9 boots, the most it gets"
	want := Final(prev, comps)
	got, err := ReplayLooks("a", boots, looks, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got.Looks != 3 || got.Stop != looks[2].Stop || len(got.Kernels) != 2 {
		t.Fatalf("replay: %d looks, stop %q, %d kernels", got.Looks, got.Stop, len(got.Kernels))
	}
	for i, k := range got.Kernels {
		w := want.Kernels[i]
		if k.Kernel != w.Kernel || k.Metrics[0].Verdict != w.Metrics[0].Verdict || k.Metrics[0].P != w.Metrics[0].P || k.Look == 0 || k.Alpha <= 0 {
			t.Errorf("replayed %s: %s p %g look %d alpha %g; made as it went: %s %s p %g", k.Kernel, k.Metrics[0].Verdict, k.Metrics[0].P, k.Look, k.Alpha,
				w.Kernel, w.Metrics[0].Verdict, w.Metrics[0].P)
		}
	}
	// b doubled its latency: decided at the first look, with the baseline's
	// boots of that look.
	if b := got.Kernels[0]; b.Kernel != "b" || b.Look != 1 || b.Metrics[0].Verdict != Regression || b.BaseBoots == nil || b.BaseBoots.OK != 3 {
		t.Errorf("b: look %d, verdict %s, base boots %+v; want a regression at look 1 against 3 baseline boots", b.Look, b.Metrics[0].Verdict, b.BaseBoots)
	}
	if _, err := ReplayLooks("a", boots[:len(boots)-4], looks, opt); err == nil || !strings.Contains(err.Error(), "look 3") {
		t.Errorf("replay with boots missing = %v, want look 3 to disagree", err)
	}

	// Through a run directory: the looks round-trip looks.json, and
	// CompareRun replays them; a fixed run is compared once.
	d := &Dir{Path: t.TempDir()}
	run := &Run{Baseline: "a", Adaptive: &Adaptive{Round: 3, MaxBoots: 9}}
	if c, err := CompareRun(d, run, boots, nil); err != nil || c.Looks != 0 || len(c.Kernels) != 2 {
		t.Errorf("CompareRun before any look = %d looks, %v; want one comparison", c.Looks, err)
	}
	if err := d.WriteLooks(looks); err != nil {
		t.Fatal(err)
	}
	if c, err := CompareRun(d, run, boots, nil); err != nil || c.Looks != 3 || c.Kernels[0].Look != 1 {
		t.Errorf("CompareRun = %+v, %v; want the replay of 3 looks", c, err)
	}
	looks[1].Number = 7
	d.WriteLooks(looks)
	if _, err := d.Looks(); err == nil || !strings.Contains(err.Error(), "looks.json: look 2 is numbered 7") {
		t.Errorf("Looks of a misnumbered file = %v", err)
	}
}
