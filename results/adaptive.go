package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StopAllDecided is the Stop of an adaptive run whose kernels were all decided.
const StopAllDecided = "every kernel decided"

// LooksFile holds the looks of an adaptive run, rewritten atomically after
// each one.
const LooksFile = "looks.json"

// Adaptive is how an adaptive run (boots: auto) chooses its boots: Run.Boots
// is the first round; then after each look the baseline and the kernels
// still undecided get Round more boots each, up to MaxBoots, while the
// Budget lasts.
type Adaptive struct {
	Round    int           `json:"round"`
	MaxBoots int           `json:"max_boots"`
	Budget   time.Duration `json:"budget_ns"`
}

// RoundRecord is one look of an adaptive run as looks.json keeps it: the
// look, how much of the plan it saw, and what it added to the plan.
type RoundRecord struct {
	Look
	// Planned is the length of the plan the look saw: it analysed the boots
	// with Seq < Planned.
	Planned int `json:"planned"`
	// Added are the boots the look planned next (none: the run ended).
	Added []PlanEntry `json:"added,omitempty"`
	// Elapsed is the run's booting time up to the look, over all its
	// invocations (a resumed run adds to it).
	Elapsed time.Duration `json:"elapsed_ns"`
	// Stop says why the run stopped at this look, when it did.
	Stop string `json:"stop,omitempty"`
}

// Looks reads the looks of an adaptive run (none yet: nil).
func (d *Dir) Looks() ([]RoundRecord, error) {
	p := filepath.Join(d.Path, LooksFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var looks []RoundRecord
	if err := json.Unmarshal(b, &looks); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	for i, l := range looks {
		if l.Number != i+1 {
			return nil, fmt.Errorf("%s: look %d is numbered %d", p, i+1, l.Number)
		}
	}
	return looks, nil
}

// WriteLooks records the looks so far, atomically.
func (d *Dir) WriteLooks(looks []RoundRecord) error {
	return writeJSONAtomic(filepath.Join(d.Path, LooksFile), looks)
}

// FullPlan is the run's plan with what its looks added, in order.
func FullPlan(run *Run, looks []RoundRecord) []PlanEntry {
	plan := append([]PlanEntry(nil), run.Plan...)
	for _, l := range looks {
		plan = append(plan, l.Added...)
	}
	return plan
}

// ReplayLooks recomputes the verdicts of an adaptive run from its boots and
// recorded looks: each look analyses the boots it saw, at the alpha it
// spent, and a kernel keeps the verdicts of the look that decided it (see
// Final). It fails when a recomputed look disagrees with the record (the
// boots changed since), so that a report never mixes two analyses.
func ReplayLooks(baseline string, boots []*Boot, looks []RoundRecord, opt SequentialOptions) (*Comparison, error) {
	var prev []Look
	var comps []*Comparison
	for _, rec := range looks {
		var seen []*Boot
		for _, b := range boots {
			if b.Seq < rec.Planned {
				seen = append(seen, b)
			}
		}
		look, c := NextLook(baseline, seen, prev, opt)
		if err := sameLook(look, rec.Look); err != nil {
			return nil, fmt.Errorf("look %d: %w", rec.Number, err)
		}
		prev = append(prev, look)
		comps = append(comps, c)
	}
	c := Final(prev, comps)
	if c != nil {
		c.Looks, c.Stop = len(looks), looks[len(looks)-1].Stop
	}
	return c, nil
}

func sameLook(got, want Look) error {
	if len(got.Kernels) != len(want.Kernels) {
		return fmt.Errorf("recomputed with %d kernels, recorded with %d", len(got.Kernels), len(want.Kernels))
	}
	for i, g := range got.Kernels {
		w := want.Kernels[i]
		if g.Kernel != w.Kernel || g.Boots != w.Boots || g.BaseBoots != w.BaseBoots || g.Decided != w.Decided {
			return fmt.Errorf("kernel %s: recomputed %d/%d boots decided %v, recorded %s %d/%d decided %v",
				g.Kernel, g.Boots, g.BaseBoots, g.Decided, w.Kernel, w.Boots, w.BaseBoots, w.Decided)
		}
	}
	return nil
}

// CompareRun is the comparison of a run directory's boots against its
// baseline: one comparison for a fixed plan (or an adaptive run that has not
// looked yet, which has spent no alpha), the replay of its looks for an
// adaptive one.
func CompareRun(d *Dir, run *Run, boots []*Boot, thresholds map[string]float64) (*Comparison, error) {
	opt := CompareOptions{Thresholds: thresholds, Kernels: run.Kernels}
	looks, err := d.Looks()
	if err != nil {
		return nil, err
	}
	if run.Adaptive == nil || len(looks) == 0 {
		return Compare(run.Baseline, boots, opt), nil
	}
	c, err := ReplayLooks(run.Baseline, boots, looks, SequentialOptions{Compare: opt, MaxBoots: run.Adaptive.MaxBoots})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Path, err)
	}
	return c, nil
}
