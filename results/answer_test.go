package results

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAnswer: the answer leads with each kernel's verdict, lists decided
// changes largest first within regressions then improvements, fits the
// width, and says "nothing changed" of a kernel compared with itself.
func TestAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := bootsOf("old", 8, 0, r, lognormal("a.p50", 100, 0.02), lognormal("b.p50", 100, 0.02), lognormal("c.p50", 100, 0.02))
	same := bootsOf("same", 8, 1, r, lognormal("a.p50", 100, 0.02), lognormal("b.p50", 100, 0.02), lognormal("c.p50", 100, 0.02))
	moved := bootsOf("moved", 8, 1, r, lognormal("a.p50", 130, 0.02), lognormal("b.p50", 200, 0.02), lognormal("c.p50", 50, 0.02))
	c := Compare("old", append(append(base, same...), moved...), CompareOptions{})
	lines := Answer(c)
	text := strings.Join(lines, "\n")
	for _, l := range lines {
		if len([]rune(l)) > answerWidth {
			t.Errorf("line wider than %d: %q", answerWidth, l)
		}
	}
	if !strings.HasPrefix(lines[0], "same vs old: EQUIVALENT: nothing changed") {
		t.Errorf("first line = %q, want same vs old: EQUIVALENT: nothing changed", lines[0])
	}
	ia, ib, ic := strings.Index(text, "s/a.p50"), strings.Index(text, "s/b.p50"), strings.Index(text, "s/c.p50")
	if !strings.Contains(text, "moved vs old: REGRESSION: 3 decided changes") || ia < 0 || ib < 0 || ic < 0 || !(ib < ia && ia < ic) {
		t.Errorf("answer = \n%s\nwant moved's regressions b (+100%%) then a (+30%%), then the improvement c", text)
	}
}

// TestKernelsInMatrixOrder: the comparison lists kernels as the matrix
// does, whatever order their boots ran in.
func TestKernelsInMatrixOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	boots := append(append(bootsOf("base", 2, 0, r, lognormal("a.p50", 100, 0.02)),
		bootsOf("second", 2, 1, r, lognormal("a.p50", 100, 0.02))...), bootsOf("first", 2, 3, r, lognormal("a.p50", 100, 0.02))...)
	c := Compare("base", boots, CompareOptions{Kernels: []Kernel{{Name: "base"}, {Name: "first"}, {Name: "second"}}})
	if len(c.Kernels) != 2 || c.Kernels[0].Kernel != "first" || c.Kernels[1].Kernel != "second" {
		t.Errorf("kernels = %v, want first, second", []string{c.Kernels[0].Kernel, c.Kernels[1].Kernel})
	}
}

// TestAnswerBoundsWhatChanged: two kernel versions differ in dozens of
// facts; the answer lists the first as far as four lines go and says how
// many more there are, and a config option is not said again as a fact.
func TestAnswerBoundsWhatChanged(t *testing.T) {
	base, cand := map[string]string{}, map[string]string{}
	for i := 0; i < 60; i++ {
		base[fmt.Sprintf("sched.knob%02d", i)] = "1"
		cand[fmt.Sprintf("sched.knob%02d", i)] = "2"
	}
	base["config.CONFIG_HZ"], cand["config.CONFIG_HZ"] = "250", "1000"
	cs := WhatChanged(Kernel{Release: "6.1", Config: map[string]string{"CONFIG_HZ": "250"}}, Kernel{Release: "7.3", Config: map[string]string{"CONFIG_HZ": "1000"}}, base, cand)
	for _, c := range cs {
		if c.Kind == "fact" && c.Key == "config.CONFIG_HZ" {
			t.Errorf("CONFIG_HZ is said twice: %+v", cs)
		}
	}
	lines := changedLines(cs)
	last := lines[len(lines)-1]
	if len(lines) > answerChangedLines || !strings.Contains(last, "more (the full list: kvet show RUNDIR, report.html)") || !strings.HasPrefix(lines[0], "  what changed: release 6.1 -> 7.3; CONFIG_HZ 250 -> 1000") {
		t.Errorf("what changed in the answer:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if len(l) > answerWidth {
			t.Errorf("line of %d columns: %s", len(l), l)
		}
	}
}

// TestComplementShiftLabelled: a fraction judged on its rarer side shows
// the shift of 1 - value, and says so, so that -99.6% beside 0.954 -> 1
// does not read as the fraction falling.
func TestComplementShiftLabelled(t *testing.T) {
	m := &MetricResult{Scale: LogScale, Ratio: 0.004, Lo: 0.001, Hi: 0.01, Level: 0.9, Complement: true}
	if got := changeString(m); got != "-99.6% of 1-x" {
		t.Errorf("changeString = %q, want -99.6%% of 1-x", got)
	}
	m.Complement = false
	if got := changeString(m); got != "-99.6%" {
		t.Errorf("changeString = %q", got)
	}
}

// TestAnswerSaysOneOffs: a boot whose panic did not reproduce on a rerun
// is said in the kernel's answer line, not counted as a fault.
func TestAnswerSaysOneOffs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	base := bootsOf("base", 3, 0, r, lognormal("a.p50", 100, 0.02))
	cand := bootsOf("cand", 3, 1, r, lognormal("a.p50", 100, 0.02))
	cand[1].Unconfirmed = []FaultTry{{Outcome: KernelPanic, Decisive: []string{"Kernel panic - not syncing: sysrq triggered crash"}}}
	c := Compare("base", append(base, cand...), CompareOptions{})
	lines := Answer(c)
	if !strings.Contains(lines[0], "cand vs base: ") || !strings.Contains(lines[0], "1 one-off fault that did not reproduce (not counted)") {
		t.Errorf("answer's first line = %q, want the one-off said", lines[0])
	}
	if len(c.Kernels[0].Faults) != 0 || c.Kernels[0].Overall() == Regression {
		t.Errorf("a one-off counted as a fault: %+v, overall %s", c.Kernels[0].Faults, c.Kernels[0].Overall())
	}
}
