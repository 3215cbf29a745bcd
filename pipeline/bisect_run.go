package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
)

// BisectOptions are a bisection's choices.
type BisectOptions struct {
	// Matrix lists the kernels in order (a series expands to its members,
	// oldest first); its scenarios must measure Metric.
	Matrix *matrix.Matrix
	Metric string
	// Dir holds the state and the steps' runs; a directory with a
	// bisection in it is resumed.
	Dir string
	// Run is the template of each step's run (cache, QEMU, pool, log).
	Run Options
	// DryRun lists the members and the first step without booting.
	DryRun bool
	// Out gets a line per step.
	Out io.Writer
}

// Bisect runs (or resumes) a bisection to its end.
func Bisect(ctx context.Context, o BisectOptions) (*Bisection, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	sc, _, ok := strings.Cut(o.Metric, "/")
	if !ok {
		return nil, badInput(fmt.Errorf("bisect: metric %q: want scenario/metric", o.Metric))
	}
	var scen []matrix.Scenario
	for _, s := range o.Matrix.Scenarios {
		if s.ResultName() == sc {
			scen = append(scen, s)
		}
	}
	if len(scen) == 0 {
		return nil, badInput(fmt.Errorf("bisect: metric %s: the matrix runs no scenario %s", o.Metric, sc))
	}
	names, specs, err := members(ctx, o)
	if err != nil {
		return nil, err
	}
	if len(names) < 3 {
		return nil, badInput(fmt.Errorf("bisect: %d kernels: want at least 3 (good, one to test, bad)", len(names)))
	}
	b := &Bisection{Metric: o.Metric, Kernels: names}
	if old, err := LoadBisection(o.Dir); err != nil {
		return nil, badInput(err)
	} else if old != nil {
		if old.Metric != b.Metric || !slices.Equal(old.Kernels, b.Kernels) {
			return nil, badInput(fmt.Errorf("bisect: %s holds a bisection of %s over other kernels; give another --dir", o.Dir, old.Metric))
		}
		b = old
	}
	fmt.Fprintf(o.Out, "bisecting %s over %d kernels, %s (good) .. %s (bad): at most %d steps if none is skipped\n",
		o.Metric, len(names), names[0], names[len(names)-1], int(math.Ceil(math.Log2(float64(len(names)-1)))))
	if o.DryRun {
		if i, ok := b.Next(); ok {
			good, bad, open := b.Range()
			fmt.Fprintf(o.Out, "kernels: %s\nfirst step: %s beside %s and %s (%d open)\n", strings.Join(names, " "), names[i], names[good], names[bad], len(open))
		}
		return b, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, infra(err)
	}
	for {
		i, ok := b.Next()
		if !ok {
			break
		}
		good, bad, _ := b.Range()
		step, err := o.step(ctx, len(b.Steps)+1, "", specs, scen, names[good], names[i], names[bad])
		if err != nil {
			return b, err
		}
		if step.Mark == MarkSkip && step.VsGood != "" {
			// Undecided: once more with twice the boots before a skip.
			first := step
			if step, err = o.step(ctx, len(b.Steps)+1, "-more", specs, scen, names[good], names[i], names[bad]); err != nil {
				return b, err
			}
			step.Wall += first.Wall
			step.Why += fmt.Sprintf(" (with twice the boots; first %s)", first.Why)
		}
		b.Steps = append(b.Steps, step)
		if step.Change != results.Regression && step.Change != results.Improvement && step.VsGood != "" {
			b.Stop = fmt.Sprintf("%s and %s do not differ on %s in step %d's boots (%s): nothing to bisect; more boots (--boots) may decide it",
				step.Good, step.Bad, o.Metric, len(b.Steps), step.Change)
		}
		if err := b.Save(o.Dir); err != nil {
			return b, infra(err)
		}
		fmt.Fprintf(o.Out, "step %d: %s beside %s and %s: %s (%s) in %s\n", len(b.Steps), step.Kernel, step.Good, step.Bad, step.Mark, step.Why, step.Wall.Round(time.Second))
	}
	return b, nil
}

// step boots cand beside good and bad and marks it.
// A retry ("-more") boots twice as many.
func (o BisectOptions) step(ctx context.Context, n int, retry string, specs map[string]kernels.Spec, scen []matrix.Scenario, good, cand, bad string) (Step, error) {
	st := Step{Kernel: cand, Good: good, Bad: bad, Run: fmt.Sprintf("step-%02d-%s%s", n, cand, retry)}
	start := time.Now()
	sub := *o.Matrix
	if retry != "" {
		if sub.Adaptive() {
			sub.MaxBoots *= 2
		} else {
			sub.Boots *= 2
		}
	}
	sub.Kernels = []kernels.Spec{specs[good], specs[cand], specs[bad]}
	sub.Baseline, sub.Scenarios, sub.Seed = good, scen, 0
	ro := o.Run
	ro.Matrix, ro.Out, ro.FailOn = &sub, filepath.Join(o.Dir, st.Run), []results.Verdict{}
	if _, err := os.Stat(filepath.Join(ro.Out, results.RunFile)); err == nil {
		ro.Matrix, ro.Resume, ro.Out = nil, ro.Out, ""
	}
	r, err := Prepare(ctx, ro)
	if err != nil {
		return st, err
	}
	defer r.Close()
	if _, err := r.Run(ctx, nil); err != nil {
		return st, err
	}
	rep, err := r.Finish()
	if err != nil {
		return st, err
	}
	st.Wall = time.Since(start)
	verdict := func(c *results.Comparison, kernel string) results.Verdict {
		for _, k := range c.Kernels {
			if k.Kernel != kernel {
				continue
			}
			if len(k.Faults) > 0 {
				return ""
			}
			for _, m := range k.Metrics {
				if m.Key == o.Metric {
					return m.Verdict
				}
			}
		}
		return results.NotComparable
	}
	st.VsGood, st.Change = verdict(rep.Comparison, cand), verdict(rep.Comparison, bad)
	vsBad := results.Compare(bad, rep.Boots, results.CompareOptions{Thresholds: sub.ThresholdMap(), Kernels: r.Record.Kernels})
	st.VsBad = verdict(vsBad, cand)
	if st.VsGood == "" || st.VsBad == "" || st.Change == "" {
		st.Mark, st.Why = MarkSkip, "a kernel failed in this step (see its run)"
		return st, nil
	}
	st.Mark, st.Why = MarkOf(st.VsGood, st.VsBad, st.Change)
	return st, nil
}

// members expands the matrix's kernels into the bisection's ordered
// members: a series becomes its packages, oldest first, without fetching.
func members(ctx context.Context, o BisectOptions) ([]string, map[string]kernels.Spec, error) {
	var names []string
	specs := map[string]kernels.Spec{}
	var resolver *kernels.Resolver
	for _, s := range o.Matrix.Kernels {
		if s.Series == "" {
			names = append(names, s.Name)
			specs[s.Name] = s
			continue
		}
		if resolver == nil {
			cache := o.Run.CacheDir
			if cache == "" {
				var err error
				if cache, err = DefaultCacheDir(); err != nil {
					return nil, nil, infra(err)
				}
			}
			resolver = &kernels.Resolver{CacheDir: cache, Archive: o.Matrix.Archive, Logger: o.Run.Logger}
		}
		pvs, err := resolver.Lookup(ctx, s)
		if err != nil {
			return nil, nil, KernelError(s.Name, err)
		}
		for _, pv := range pvs {
			m := s
			m.Name = s.Name + "@" + safeVersion(pv.Version)
			m.Package, m.Series, m.Since = pv.Package, "", ""
			names = append(names, m.Name)
			specs[m.Name] = m
		}
	}
	if len(names) == 0 {
		return nil, nil, badInput(errors.New("bisect: no kernels"))
	}
	return names, specs, nil
}

func safeVersion(v string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r) {
			return r
		}
		return '-'
	}, v)
}
