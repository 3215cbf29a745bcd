package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kvet/kvet/results"
)

// bisectTo runs a bisection of n members against fake verdicts: members
// from firstBad on are bad, those in skip undecided. It saves and reloads
// the state after every step, as a killed and resumed bisection would.
func bisectTo(t *testing.T, n, firstBad int, skip map[int]bool) (*Bisection, int) {
	t.Helper()
	dir := t.TempDir()
	b := &Bisection{Metric: "s/m"}
	for i := 0; i < n; i++ {
		b.Kernels = append(b.Kernels, fmt.Sprintf("k%d", i))
	}
	steps := 0
	for {
		i, ok := b.Next()
		if !ok {
			return b, steps
		}
		if good, bad, _ := b.Range(); i <= good || i >= bad {
			t.Fatalf("step %d boots member %d outside (%d, %d)", steps+1, i, good, bad)
		}
		mark := MarkGood
		switch {
		case skip[i]:
			mark = MarkSkip
		case i >= firstBad:
			mark = MarkBad
		}
		b.Steps = append(b.Steps, Step{Kernel: b.Kernels[i], Mark: mark})
		steps++
		if err := b.Save(dir); err != nil {
			t.Fatal(err)
		}
		if b, _ = LoadBisection(dir); b == nil || len(b.Steps) != steps {
			t.Fatalf("reloaded state: %+v", b)
		}
		if steps > MaxSteps(n) {
			t.Fatalf("%d steps for %d members", steps, n)
		}
	}
}

// TestBisectSteps: the bisection names the first bad member in about
// log2(n) steps, works around skipped members as git bisect does, and says
// which members a skip leaves undecided.
func TestBisectSteps(t *testing.T) {
	for _, c := range []struct{ n, firstBad, maxSteps int }{{3, 1, 1}, {3, 2, 1}, {9, 5, 3}, {18, 1, 5}, {18, 17, 5}, {18, 9, 5}, {100, 37, 7}} {
		b, steps := bisectTo(t, c.n, c.firstBad, nil)
		want := fmt.Sprintf("first bad: k%d (the last good is k%d)", c.firstBad, c.firstBad-1)
		if got := b.Result(); got != want || steps > c.maxSteps {
			t.Errorf("n %d, first bad %d: %q in %d steps; want %q in at most %d", c.n, c.firstBad, got, steps, want, c.maxSteps)
		}
	}
	// A skipped neighbour: the next member is tried instead.
	b, _ := bisectTo(t, 9, 5, map[int]bool{4: true})
	if got := b.Result(); got != "first bad: k5 (the last good is k3)" && got != "first bad: one of k4, k5 (skipped: no decision), after k3 (good)" {
		t.Errorf("skip k4: %q", got)
	}
	b, _ = bisectTo(t, 9, 5, map[int]bool{5: true})
	if got := b.Result(); !strings.HasPrefix(got, "first bad: one of k5, k6") {
		t.Errorf("skip k5: %q, want the range k5..k6 left", got)
	}
	stopped := &Bisection{Kernels: []string{"a", "b", "c", "d"}, Stop: "a and d do not differ"}
	if _, ok := stopped.Next(); ok || stopped.Result() != "stopped: a and d do not differ" {
		t.Errorf("a stopped bisection goes on, or says %q", stopped.Result())
	}
	if got := (&Bisection{Kernels: []string{"a", "b", "c", "d"}}).Result(); !strings.HasPrefix(got, "open: 2 kernels between a (good) and d (bad)") {
		t.Errorf("no steps yet: %q", got)
	}
}

// TestMarkOf: a step is bad when the kernel changed from the good one as
// the bad one did, good when it differs from the bad one only, a skip
// otherwise.
func TestMarkOf(t *testing.T) {
	R, I, E, U := results.Regression, results.Improvement, results.Equivalent, results.Inconclusive
	for _, c := range []struct {
		vsGood, vsBad, change results.Verdict
		want                  string
	}{
		{R, U, R, MarkBad}, {R, E, R, MarkBad}, {U, I, R, MarkGood}, {E, I, R, MarkGood},
		{I, U, R, MarkSkip}, {U, U, R, MarkSkip}, {R, I, R, MarkSkip}, {R, U, U, MarkSkip},
	} {
		if got, why := MarkOf(c.vsGood, c.vsBad, c.change); got != c.want || why == "" {
			t.Errorf("MarkOf(%s, %s, %s) = %s (%s), want %s", c.vsGood, c.vsBad, c.change, got, why, c.want)
		}
	}
}
