package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvet/kvet/results"
)

// A bisection finds the first kernel of an ordered list (a package series,
// or a matrix's kernels in order) at which a metric changed: the first
// kernel is good, the last bad. Each step boots the kernel in the middle of
// the range still open beside the nearest good and bad kernels known, and
// marks it good, bad, or skip (undecided), as git bisect does. The state is
// a directory: bisect.json and one run directory per step, so a killed
// bisection resumes where it stopped.

// BisectFile holds a bisection's state.
const BisectFile = "bisect.json"

// Marks of a bisection step.
const (
	MarkGood = "good"
	MarkBad  = "bad"
	MarkSkip = "skip"
)

// Bisection is bisect.json.
type Bisection struct {
	// Metric is the key whose change is looked for; Kernels the ordered
	// members, Kernels[0] good and the last bad.
	Metric  string   `json:"metric"`
	Kernels []string `json:"kernels"`
	Steps   []Step   `json:"steps"`
	// Stop is set when the bisection cannot go on: the good and bad
	// kernels did not differ on the metric in a step's boots.
	Stop string `json:"stop,omitempty"`
}

// Step is one comparison of a bisection.
type Step struct {
	Kernel string `json:"kernel"`
	// Good and Bad are the kernels it was booted beside.
	Good string `json:"good"`
	Bad  string `json:"bad"`
	// Run is the step's run directory, relative to the bisection's.
	Run string `json:"run"`
	// VsGood and VsBad are the metric's verdicts against each; Change the
	// bad kernel's verdict against the good one in the same run.
	VsGood results.Verdict `json:"vs_good"`
	VsBad  results.Verdict `json:"vs_bad"`
	Change results.Verdict `json:"change"`
	Mark   string          `json:"mark"`
	Why    string          `json:"why"`
	Wall   time.Duration   `json:"wall_ns"`
}

// Range is what the steps so far leave open: the nearest good and bad
// members (indices) and the members between them not skipped.
func (b *Bisection) Range() (good, bad int, open []int) {
	index := map[string]int{}
	for i, k := range b.Kernels {
		index[k] = i
	}
	good, bad = 0, len(b.Kernels)-1
	skipped := map[int]bool{}
	for _, s := range b.Steps {
		i, ok := index[s.Kernel]
		if !ok {
			continue
		}
		switch s.Mark {
		case MarkGood:
			good = max(good, i)
		case MarkBad:
			bad = min(bad, i)
		case MarkSkip:
			skipped[i] = true
		}
	}
	for i := good + 1; i < bad; i++ {
		if !skipped[i] {
			open = append(open, i)
		}
	}
	return good, bad, open
}

// Next is the member the next step boots, the one of the open range
// nearest its middle; ok is false when the bisection is over.
func (b *Bisection) Next() (next int, ok bool) {
	good, bad, open := b.Range()
	if len(open) == 0 || b.Stop != "" {
		return 0, false
	}
	mid := (good + bad) / 2
	best := open[0]
	for _, i := range open {
		if abs(i-mid) < abs(best-mid) {
			best = i
		}
	}
	return best, true
}

// Result says what the bisection found, or what is left open.
func (b *Bisection) Result() string {
	if b.Stop != "" {
		return "stopped: " + b.Stop
	}
	good, bad, open := b.Range()
	if len(open) > 0 {
		return fmt.Sprintf("open: %d kernels between %s (good) and %s (bad)", len(open), b.Kernels[good], b.Kernels[bad])
	}
	if bad == good+1 {
		return fmt.Sprintf("first bad: %s (the last good is %s)", b.Kernels[bad], b.Kernels[good])
	}
	return fmt.Sprintf("first bad: one of %s (skipped: no decision), after %s (good)", strings.Join(b.Kernels[good+1:bad+1], ", "), b.Kernels[good])
}

// MaxSteps bounds a bisection of n members: every member once at most.
func MaxSteps(n int) int { return max(0, n-2) }

// MarkOf decides a step from the metric's verdicts: the candidate changed
// from the good kernel as the bad one did (bad), or differs from the bad
// one and not from the good one (good); anything else is a skip.
func MarkOf(vsGood, vsBad, change results.Verdict) (mark, why string) {
	decided := func(v results.Verdict) bool { return v == results.Regression || v == results.Improvement }
	if !decided(change) {
		return MarkSkip, fmt.Sprintf("the bad kernel's change itself is %s in this step's boots", change)
	}
	switch {
	case vsGood == change && !decided(vsBad):
		return MarkBad, fmt.Sprintf("%s against the good kernel, like the bad one", change)
	case decided(vsBad) && !decided(vsGood):
		return MarkGood, fmt.Sprintf("%s against the bad kernel, %s against the good one", vsBad, vsGood)
	}
	return MarkSkip, fmt.Sprintf("%s against the good kernel, %s against the bad one: undecided", vsGood, vsBad)
}

// LoadBisection reads a bisection's state; none yet is nil.
func LoadBisection(dir string) (*Bisection, error) {
	data, err := os.ReadFile(filepath.Join(dir, BisectFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var b Bisection
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, BisectFile), err)
	}
	return &b, nil
}

// Save writes the state atomically.
func (b *Bisection) Save(dir string) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(dir, BisectFile), append(data, '\n'))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
