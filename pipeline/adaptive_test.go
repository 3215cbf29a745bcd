package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// TestNextRound: the round after a look boots the baseline and the kernels
// the look wants more of, continuing the plan's numbering, and no round
// starts when every kernel is decided, a kernel or the baseline failed, the
// boots run out or the budget would.
func TestNextRound(t *testing.T) {
	run := &results.Run{Baseline: "a", Seed: 5, Adaptive: &results.Adaptive{Round: 3, MaxBoots: 7}}
	plan := runner.PlanBoots([]string{"a", "b", "c", "d"}, 3, 5)
	var boots []*results.Boot
	for _, e := range plan {
		boots = append(boots, &results.Boot{Kernel: e.Kernel, Index: e.Index, Seq: e.Seq, Outcome: results.OK})
	}
	look := results.Look{Number: 1, Kernels: []results.KernelLook{
		{Kernel: "b", More: true},
		{Kernel: "c", Decided: true, Reason: "every primary metric decided"},
		{Kernel: "d", More: true},
	}}
	added, stop := nextRound(run, look, boots, plan, 2*time.Minute, 0)
	count := map[string]int{}
	for i, e := range added {
		count[e.Kernel]++
		if e.Seq != len(plan)+i || e.Index < 3 || e.Index > 5 {
			t.Errorf("added[%d] = %+v: want seq %d and an index after the first round's", i, e, len(plan)+i)
		}
	}
	if stop != "" || count["a"] != 3 || count["b"] != 3 || count["d"] != 3 || count["c"] != 0 {
		t.Errorf("round = %v (stop %q), want 3 boots each of a, b and d", count, stop)
	}
	// The last round is cut to max_boots.
	full := append(append([]results.PlanEntry(nil), plan...), added...)
	added, _ = nextRound(run, look, boots, full, 4*time.Minute, 0)
	if len(added) != 3 {
		t.Errorf("after 6 boots of 7: %d added, want 1 each of a, b, d", len(added))
	}
	// The budget: 12 boots took 2m, 9 more would take 1m30s.
	if added, stop := nextRound(run, look, boots, plan, 2*time.Minute, 3*time.Minute); added != nil || !strings.Contains(stop, "budget: another round (3 boots of a, b, d, about 1m30s)") {
		t.Errorf("over budget: %d added, stop %q", len(added), stop)
	}
	if added, _ := nextRound(run, look, boots, plan, 2*time.Minute, 4*time.Minute); len(added) != 9 {
		t.Errorf("within budget: %d added, want 9", len(added))
	}
	// d panicked: it gets no more boots; the baseline panicked: nothing does.
	boots[len(boots)-1] = &results.Boot{Kernel: "d", Outcome: results.KernelPanic}
	if added, _ := nextRound(run, look, boots, plan, time.Minute, 0); len(added) != 6 {
		t.Errorf("d failed: %d added, want 3 each of a and b", len(added))
	}
	// A scenario of one baseline boot failed (agent-error): its other boots
	// are still a baseline, and the run goes on.
	boots[0] = &results.Boot{Kernel: "a", Outcome: results.AgentError}
	if added, stop := nextRound(run, look, boots, plan, time.Minute, 0); len(added) != 6 || stop != "" {
		t.Errorf("a baseline boot with an agent-error: %d added (stop %q), want 3 each of a and b", len(added), stop)
	}
	var allFailed []*results.Boot
	for _, b := range boots {
		if b.Kernel == "a" {
			b = &results.Boot{Kernel: "a", Outcome: results.AgentError}
		}
		allFailed = append(allFailed, b)
	}
	if added, stop := nextRound(run, look, allFailed, plan, time.Minute, 0); added != nil || !strings.Contains(stop, "the baseline a failed") {
		t.Errorf("no OK baseline boot: %d added, stop %q", len(added), stop)
	}
	boots[0] = &results.Boot{Kernel: "a", Outcome: results.Hang}
	if added, stop := nextRound(run, look, boots, plan, time.Minute, 0); added != nil || !strings.Contains(stop, "the baseline a failed") {
		t.Errorf("baseline failed: %d added, stop %q", len(added), stop)
	}
	decided := results.Look{Number: 2, Kernels: []results.KernelLook{{Kernel: "b", Decided: true}}}
	if added, stop := nextRound(run, decided, boots[1:], plan, time.Minute, 0); added != nil || stop != results.StopAllDecided {
		t.Errorf("all decided: %d added, stop %q", len(added), stop)
	}
	capped := results.Look{Number: 2, Kernels: []results.KernelLook{{Kernel: "b", Reason: "undecided at 7 boots, the most it gets"}}}
	if _, stop := nextRound(run, capped, boots[1:], plan, time.Minute, 0); stop != "b: undecided at 7 boots, the most it gets" {
		t.Errorf("capped: stop %q", stop)
	}
}

// adaptiveRun is a prepared adaptive run of three kernels over a fake
// launcher: b doubles a's latency, c is a with much noise. The boots are
// the same whenever they run (seeded by kernel and index).
func adaptiveRun(t *testing.T, dir string, launch runner.LaunchFunc) (*Run, *runner.Pool) {
	t.Helper()
	m, err := matrix.Parse("m.yaml", []byte("boots: auto\nmax_boots: 7\nbudget: 1h\nkernels:\n  - {name: a, deb: a.deb}\n  - {name: b, deb: b.deb}\n  - {name: c, deb: c.deb}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &results.Run{Baseline: "a", Seed: 9, Boots: m.FirstRound(), Plan: runner.PlanBoots([]string{"a", "b", "c"}, m.FirstRound(), 9),
		Adaptive: &results.Adaptive{Round: m.Round, MaxBoots: m.MaxBoots, Budget: time.Duration(m.Budget)}}
	d := &results.Dir{Path: dir}
	if _, err := os.Stat(filepath.Join(dir, results.RunFile)); err != nil {
		if d, err = results.CreateDir(dir, rec); err != nil {
			t.Fatal(err)
		}
	}
	r := &Run{Matrix: m, Dir: d, Record: rec, log: slog.New(slog.DiscardHandler)}
	return r, &runner.Pool{Parallel: 2, Dir: d, Launch: launch}
}

func fakeBoot(_ context.Context, e results.PlanEntry, attempt int, _ runner.Slot) *results.Boot {
	rng := rand.New(rand.NewPCG(uint64(e.Index), uint64(len(e.Kernel))+uint64(e.Kernel[0])))
	v := 1000 * math.Exp(0.03*rng.NormFloat64())
	switch e.Kernel {
	case "b":
		v *= 2
	case "c":
		v *= math.Exp(0.5 * rng.NormFloat64())
	}
	sc := results.Scenario{Name: "s", Valid: true, Metrics: []results.Metric{{Name: "lat.p50", Unit: "ns", Better: results.LowerIsBetter, Value: v, Primary: true}}}
	return &results.Boot{Accel: "kvm", Outcome: results.OK, Scenarios: []results.Scenario{sc}, Attempt: attempt}
}

// TestRunAdaptive: rounds go on for the undecided kernel only, up to
// max_boots; a run killed in its second round and resumed continues the
// same plan to the same looks and verdicts as a run never killed.
func TestRunAdaptive(t *testing.T) {
	whole := t.TempDir()
	r, pool := adaptiveRun(t, whole, fakeBoot)
	if _, err := r.runAdaptive(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	looks, err := r.Dir.Looks()
	if err != nil || len(looks) != 3 {
		t.Fatalf("%d looks, %v; want 3 (3, 6 and 7 boots)", len(looks), err)
	}
	boots, _ := r.Dir.Boots()
	count := map[string]int{}
	for _, b := range boots {
		count[b.Kernel]++
	}
	if count["a"] != 7 || count["b"] != 3 || count["c"] != 7 {
		t.Errorf("boots per kernel %v, want a 7, b 3 (decided at the first look), c 7", count)
	}
	if last := looks[2]; last.Stop != "c: undecided at 7 boots, the most it gets" || len(last.Added) != 0 {
		t.Errorf("last look: stop %q, added %d", last.Stop, len(last.Added))
	}
	rep, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Comparison; c.Looks != 3 || c.Kernels[0].Kernel != "b" || c.Kernels[0].Look != 1 || c.Kernels[0].Metrics[0].Verdict != results.Regression {
		t.Errorf("comparison: %d looks, first kernel %+v", c.Looks, c.Kernels[0])
	}

	// Killed after 11 boots (in the second round), then resumed.
	killed := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	var n atomic.Int32
	r2, pool2 := adaptiveRun(t, killed, func(c context.Context, e results.PlanEntry, attempt int, s runner.Slot) *results.Boot {
		if n.Add(1) > 11 {
			cancel()
			<-c.Done()
			return &results.Boot{Outcome: results.InfraError, Reason: "cancelled"}
		}
		return fakeBoot(c, e, attempt, s)
	})
	if _, err := r2.runAdaptive(ctx, pool2); err == nil {
		t.Fatalf("killed run = %v, want an interruption", err)
	}
	if l, _ := r2.Dir.Looks(); len(l) != 1 {
		t.Fatalf("killed in round 2 with %d looks recorded, want 1", len(l))
	}
	r3, pool3 := adaptiveRun(t, killed, fakeBoot)
	if _, err := r3.runAdaptive(t.Context(), pool3); err != nil {
		t.Fatal(err)
	}
	resumed, _ := r3.Dir.Looks()
	if len(resumed) != len(looks) {
		t.Fatalf("resumed run: %d looks, want %d", len(resumed), len(looks))
	}
	for i := range looks {
		a, b := looks[i], resumed[i]
		if a.Planned != b.Planned || len(a.Added) != len(b.Added) || a.Stop != b.Stop || fmt.Sprint(a.Kernels) != fmt.Sprint(b.Kernels) {
			t.Errorf("look %d: resumed %+v, whole run %+v", i+1, b, a)
		}
	}
}
