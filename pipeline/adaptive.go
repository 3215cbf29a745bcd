package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// An adaptive run (boots: auto) boots a first round of every kernel, looks
// at what it has (results.NextLook), and boots another round of the
// baseline and of the kernels still undecided, until every kernel is
// decided, has MaxBoots boots, or the budget would run out before the
// round ends. Each look is recorded in looks.json with the boots it added
// to the plan, so a resumed run continues the same plan, and the verdicts
// are recomputed from the boots and the looks (results.ReplayLooks).

// runAdaptive runs the plan and its further rounds.
func (r *Run) runAdaptive(ctx context.Context, pool *runner.Pool) (runner.Summary, error) {
	a := r.Record.Adaptive
	looks, err := r.Dir.Looks()
	if err != nil {
		return runner.Summary{}, badInput(fmt.Errorf("run: %w", err))
	}
	var total runner.Summary
	todo := results.FullPlan(r.Record, looks) // a resume fills the gaps first
	for {
		plan := results.FullPlan(r.Record, looks)
		start := time.Now()
		sum, err := pool.Run(ctx, todo)
		total = addSummary(total, sum)
		if err != nil {
			return total, err
		}
		if n := len(looks); n > 0 && len(looks[n-1].Added) == 0 {
			return total, nil // the run had ended; a resume only filled gaps
		}
		elapsed := time.Since(start)
		if n := len(looks); n > 0 {
			elapsed += looks[n-1].Elapsed
		}
		boots, err := r.Dir.Boots()
		if err != nil {
			return total, infra(err)
		}
		prev := make([]results.Look, len(looks))
		for i, l := range looks {
			prev[i] = l.Look
		}
		look, _ := results.NextLook(r.Record.Baseline, boots, prev, r.sequential())
		rec := results.RoundRecord{Look: look, Planned: len(plan), Elapsed: elapsed}
		rec.Added, rec.Stop = nextRound(r.Record, look, boots, plan, elapsed, a.Budget)
		looks = append(looks, rec)
		if err := r.Dir.WriteLooks(looks); err != nil {
			return total, infra(fmt.Errorf("recording look %d: %w", look.Number, err))
		}
		r.log.Info("look", "look", look.Number, "undecided", undecidedNames(look), "next", len(rec.Added), "stop", rec.Stop, "elapsed", elapsed.Round(time.Second))
		if len(rec.Added) == 0 {
			return total, nil
		}
		todo = rec.Added
	}
}

// sequential is how the run's looks compare.
func (r *Run) sequential() results.SequentialOptions {
	return results.SequentialOptions{
		Compare:  results.CompareOptions{Thresholds: r.Matrix.ThresholdMap(), Kernels: r.Record.Kernels},
		MaxBoots: r.Record.Adaptive.MaxBoots,
	}
}

// nextRound plans the round after look: Round more boots of the baseline
// and of each kernel the look wants more of, unless a kernel failed, the
// boots run out or the round would end after the budget. Stop says why
// there is no round.
func nextRound(run *results.Run, look results.Look, boots []*results.Boot, plan []results.PlanEntry, elapsed, budget time.Duration) ([]results.PlanEntry, string) {
	faulted := map[string]bool{}
	baseOK, baseDown := 0, false
	for _, b := range boots {
		if b.Outcome.KernelFault() {
			faulted[b.Kernel] = true
		}
		if b.Kernel == run.Baseline {
			baseOK += b2i(b.Outcome == results.OK)
			baseDown = baseDown || b.Outcome == results.KernelPanic || b.Outcome == results.Hang
		}
	}
	// A baseline that panicked or hung (reproduced: a one-off is an OK
	// boot), or has no OK boot, leaves nothing to compare against. A
	// scenario that failed in one of its boots does not: its OK boots
	// still are the baseline, and the failure is noted in the report.
	if baseDown || baseOK == 0 {
		return nil, fmt.Sprintf("the baseline %s failed: nothing to compare against", run.Baseline)
	}
	var more, stops []string
	for _, k := range look.Kernels {
		switch {
		case k.More && faulted[k.Kernel]:
			stops = append(stops, k.Kernel+": failed")
		case k.More:
			more = append(more, k.Kernel)
		case !k.Decided:
			stops = append(stops, k.Kernel+": "+k.Reason)
		}
	}
	if len(more) == 0 {
		if len(stops) == 0 {
			return nil, results.StopAllDecided
		}
		return nil, strings.Join(stops, "; ")
	}
	planned := map[string]int{}
	for _, e := range plan {
		planned[e.Kernel]++
	}
	n := min(run.Adaptive.Round, run.Adaptive.MaxBoots-planned[run.Baseline])
	if n < 1 {
		return nil, fmt.Sprintf("the baseline has %d boots, the most it gets", planned[run.Baseline])
	}
	names := append([]string{run.Baseline}, more...)
	// The round's length is estimated from the rounds so far: booting time
	// per planned boot, the pool's parallelism unchanged.
	est := time.Duration(float64(elapsed) / float64(len(plan)) * float64(n*len(names)))
	if budget > 0 && elapsed+est > budget {
		return nil, fmt.Sprintf("budget: another round (%d boots of %s, about %s) would end after the %s budget; undecided: %s",
			n, strings.Join(names, ", "), est.Round(time.Second), budget, strings.Join(more, ", "))
	}
	var added []results.PlanEntry
	for _, e := range runner.PlanBoots(names, n, run.Seed+int64(look.Number)) {
		e.Seq = len(plan) + len(added)
		e.Index += planned[e.Kernel]
		added = append(added, e)
	}
	return added, ""
}

func undecidedNames(look results.Look) []string {
	var out []string
	for _, k := range look.Kernels {
		if !k.Decided {
			out = append(out, k.Kernel)
		}
	}
	return out
}

func addSummary(a, b runner.Summary) runner.Summary {
	a.Ran += b.Ran
	a.Skipped += b.Skipped
	a.Failed += b.Failed
	a.InfraErrors += b.InfraErrors
	a.Retries += b.Retries
	a.Wall += b.Wall
	a.Overhead += b.Overhead
	return a
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
