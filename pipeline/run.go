package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// Planned is how many boots Run will run or skip: the plan, or its shard,
// and the traced boots. An adaptive run plans more as it goes, and a run
// that traces on a change knows its traced boots once the verdicts are in:
// Planned is the plan so far.
func (r *Run) Planned() int {
	plan := r.Record.Plan
	if r.Record.Adaptive != nil {
		looks, _ := r.Dir.Looks()
		plan = results.FullPlan(r.Record, looks)
	}
	n := len(r.opts.Shard.Select(plan))
	if r.traceMode() == matrix.TraceAlways {
		n += len(r.opts.Shard.Select(runner.PlanTraces(r.kernelNames(), len(plan))))
	}
	return n
}

// traceMode is the run's --trace, or its matrix's trace:.
func (r *Run) traceMode() string {
	mode := r.opts.Trace
	if mode == "" {
		mode = r.Matrix.Trace
	}
	if mode == matrix.TraceOff {
		return ""
	}
	return mode
}

func (r *Run) kernelNames() []string {
	var names []string
	for _, k := range r.Record.Kernels {
		names = append(names, k.Name)
	}
	return names
}

// traced names the kernels that get a traced boot: all of them, or on a
// change the baseline and each kernel with a decided regression or
// improvement (or a fault) in the measurement boots' verdicts.
func (r *Run) traced() ([]string, error) {
	if r.traceMode() == matrix.TraceAlways {
		return r.kernelNames(), nil
	}
	boots, err := r.Dir.Boots()
	if err != nil {
		return nil, err
	}
	c, err := results.CompareRun(r.Dir, r.Record, boots, r.Matrix.ThresholdMap())
	if err != nil {
		return nil, err
	}
	changed := map[string]bool{}
	for _, k := range c.Kernels {
		if len(k.Faults) > 0 || slices.ContainsFunc(k.Metrics, func(m results.MetricResult) bool {
			return m.Verdict == results.Regression || m.Verdict == results.Improvement
		}) {
			changed[k.Kernel] = true
		}
	}
	var names []string
	for _, k := range r.kernelNames() {
		if changed[k] || len(changed) > 0 && k == c.Baseline {
			names = append(names, k)
		}
	}
	return names, nil
}

// runTraced boots the traced boots after the plan's (its shard's).
func (r *Run) runTraced(ctx context.Context, pool *runner.Pool) (runner.Summary, error) {
	plan := r.Record.Plan
	if r.Record.Adaptive != nil {
		looks, err := r.Dir.Looks()
		if err != nil {
			return runner.Summary{}, badInput(fmt.Errorf("run: %w", err))
		}
		plan = results.FullPlan(r.Record, looks)
	}
	names, err := r.traced()
	if err != nil {
		return runner.Summary{}, badInput(fmt.Errorf("run: choosing the kernels to trace: %w", err))
	}
	return pool.Run(ctx, r.opts.Shard.Select(runner.PlanTraces(names, len(plan))))
}

// Run boots the plan (its shard), Parallel guests at a time, recording each
// boot in the run directory as it ends; boots recorded already are skipped.
// onEvent, when set, sees the pool's progress, one event at a time.
func (r *Run) Run(ctx context.Context, onEvent func(runner.Event)) (runner.Summary, error) {
	launch := r.launchFn
	if launch == nil {
		launch = r.launch
	}
	pool := &runner.Pool{
		Parallel: r.Parallel, Retries: r.opts.Retries, Confirm: r.opts.Confirm, Dir: r.Dir, OnEvent: onEvent, CPUSets: r.cpuSets, SpareCPUs: r.spare,
		Launch: launch,
	}
	var sum runner.Summary
	var err error
	if r.Record.Adaptive != nil {
		sum, err = r.runAdaptive(ctx, pool)
	} else {
		sum, err = pool.Run(ctx, r.opts.Shard.Select(r.Record.Plan))
	}
	// The verdicts rest on the measurement boots: a traced boot's
	// infrastructure error is reported with the traces, not the run's.
	r.infraErr = sum.InfraErrors > 0
	if err == nil && r.traceMode() != "" {
		var tsum runner.Summary
		tsum, err = r.runTraced(ctx, pool)
		sum = addSummary(sum, tsum)
	}
	var pe *Error
	if errors.As(err, &pe) {
		return sum, err
	}
	if errors.Is(err, context.Canceled) {
		again := "kvet run --resume " + r.Dir.Path
		if r.opts.Trace != "" {
			again += " --trace=" + r.opts.Trace
		}
		return sum, infra(fmt.Errorf("interrupted: %d boots recorded in %s; continue with: %s", sum.Ran+sum.Skipped, r.Dir.Path, again))
	}
	if err != nil {
		return sum, infra(err)
	}
	return sum, nil
}

// launch is one boot of the plan.
func (r *Run) launch(ctx context.Context, e results.PlanEntry, attempt int, slot runner.Slot) *results.Boot {
	spec := r.launchSpec(e, slot)
	spec.Plan.Boot = &wire.BootID{Kernel: e.Kernel, Index: e.Index, Attempt: attempt}
	b := runner.Boot(ctx, spec)
	b.ConsoleFile = e.Console()
	addConfigFacts(b, r.byName[e.Kernel])
	return b
}

// launchSpec is how the plan's entry e boots in slot: a traced entry's
// guest traces its scenarios and its traces go into the run directory.
func (r *Run) launchSpec(e results.PlanEntry, slot runner.Slot) runner.BootSpec {
	k := r.byName[e.Kernel]
	spec := r.bootSpec(k, filepath.Join(r.Dir.Path, e.Console()))
	spec.Accel = r.Accel
	spec.Plan = r.plan
	spec.Plan.Seed = r.Record.Seed*1000 + int64(e.Seq)
	spec.Plan.Sysctl = r.specs[k.Name].Sysctl
	spec.HostCPUs, spec.EmulatorCPUs = slot.CPUs, slot.Emulator
	if e.Trace {
		spec.Plan.Trace, spec.Plan.TraceBufferKB = true, r.opts.TraceBufferKB
		spec.TraceDir = r.Dir.Path
		spec.TraceFile = func(scenario string) string { return results.TraceFileName(e.Kernel, e.Index, scenario) }
	}
	return spec
}

func (r *Run) bootSpec(k *kernels.Kernel, console string) runner.BootSpec {
	m := r.Matrix
	return runner.BootSpec{
		QEMU: r.qemu, Kernel: k.Vmlinuz, Initrd: r.images[k.Name].Path,
		Append: strings.TrimSpace(r.specs[k.Name].Cmdline + " " + r.opts.Append),
		CPUs:   m.CPUs, MemoryMB: m.Memory, Timeout: time.Duration(m.Timeout), ScratchDiskMB: r.scratchMB, Nice: m.QEMUNice,
		ConsolePath: console, Logger: r.log.With("kernel", k.Name),
		Expect: runner.Expect{Name: k.Name, KernelSHA256: k.SHA256, InitrdSHA256: r.images[k.Name].SHA256, Release: k.Release},
	}
}

// addConfigFacts fills in the config options the guest did not report
// (a kernel without /proc/config.gz) from the kernel's config file.
func addConfigFacts(b *results.Boot, k *kernels.Kernel) {
	if k.Config == nil {
		return
	}
	if b.Facts == nil {
		b.Facts = map[string]string{}
	}
	for key, v := range kernels.ReportedOf(k.Config) {
		if _, ok := b.Facts["config."+key]; !ok {
			b.Facts["config."+key] = v
		}
	}
}

// Report is what a finished run found.
type Report struct {
	// Comparison is nil for a shard: shards have no verdicts until merged.
	Comparison *results.Comparison
	Boots      []*results.Boot
	// Failed: a kernel failed through its own fault or a verdict is in
	// the run's fail-on list.
	Failed bool
	// InfraErrors: some boots failed for infrastructure reasons; the
	// verdicts rest on the others.
	InfraErrors bool
	// Traced are the run's traced boots (none decides anything).
	Traced []*results.Boot
}

// Finish compares the recorded boots against the baseline with the
// matrix's thresholds and writes every report into the run directory.
func (r *Run) Finish() (*Report, error) {
	boots, err := r.Dir.Boots()
	if err != nil {
		return nil, infra(err)
	}
	traced, err := r.Dir.TracedBoots()
	if err != nil {
		return nil, infra(err)
	}
	rep := &Report{Boots: boots, InfraErrors: r.infraErr, Traced: traced}
	if r.Record.Shard != "" {
		return rep, nil
	}
	failOn := r.opts.FailOn
	if failOn == nil {
		if failOn, err = r.Matrix.Verdicts(); err != nil {
			return nil, badInput(err)
		}
	}
	if rep.Comparison, err = results.CompareRun(r.Dir, r.Record, boots, r.Matrix.ThresholdMap()); err != nil {
		return nil, badInput(err)
	}
	if err := results.WriteReports(r.Dir, r.Record, boots, rep.Comparison); err != nil {
		return nil, infra(fmt.Errorf("writing reports: %w", err))
	}
	// Failed(nil) means the default, not none.
	rep.Failed = results.KernelFailed(boots) || len(failOn) > 0 && rep.Comparison.Failed(failOn)
	return rep, nil
}
