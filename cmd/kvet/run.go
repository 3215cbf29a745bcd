package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/pipeline"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

type runFlags struct {
	matrix.Override
	kernels, scenarios      stringsFlag
	parallel, retries       int
	confirm                 int
	appendArgs, out         string
	isolate, quiet, verbose bool
	resume, shard, events   string
	failOn, runID           string
	cacheDir, qemu, format  string
	trace                   traceFlag
	traceBufferKB           int
}

func (f *runFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.kernels, "kernel", "a kernel to boot: a linux-image .deb, a vmlinuz/bzImage, or a package name with an optional /SUITE as apt takes it (linux-image-cloud-amd64/trixie-backports) (repeatable; replaces the matrix's kernels, the first is the baseline)")
	fs.Var(&f.scenarios, "scenario", "run only this scenario (repeatable)")
	fs.Var(&f.Boots, "boots", "boots per kernel, or auto: rounds of boots until every kernel is decided, max-boots or the budget (default: the matrix's, auto)")
	fs.IntVar(&f.MaxBoots, "max-boots", 0, "with boots auto: the most boots per kernel (default: the matrix's, 9)")
	fs.DurationVar(&f.Budget, "budget", 0, "with boots auto: no round starts that would end after this much booting time (default: the matrix's, 15m)")
	fs.StringVar(&f.appendArgs, "append", "", "extra kernel parameters for every kernel")
	fs.StringVar(&f.Accel, "accel", "", "auto, kvm or tcg (default: the matrix's, auto)")
	fs.DurationVar(&f.Timeout, "timeout", 0, "time limit per boot (default: the matrix's, 10m)")
	fs.StringVar(&f.out, "out", "", "the run directory (default results/run-YYYYMMDD-HHMMSS)")
	fs.StringVar(&f.Profile, "profile", "", "quick or full (default: the matrix's, quick)")
	fs.IntVar(&f.parallel, "parallel", 0, "guests at once (default: as many as the host's CPUs allow)")
	fs.BoolVar(&f.isolate, "isolate", false, "one guest at a time, for the most faithful timings")
	fs.IntVar(&f.retries, "retries", 2, "retries of a boot that failed for infrastructure reasons")
	fs.IntVar(&f.confirm, "confirm", 1, "reruns of a boot that panicked or hung, to see whether the fault reproduces (0: none); a fault that does not is a one-off, noted but not a failure")
	fs.IntVar(&f.CPUs, "cpus", 0, "vCPUs per guest (default: the matrix's, 2)")
	fs.IntVar(&f.Memory, "memory", 0, "memory per guest in MiB (default: the matrix's, 1024)")
	fs.StringVar(&f.resume, "resume", "", "resume the run in this directory: run only its missing boots")
	fs.StringVar(&f.shard, "shard", "", "run shard I of N of the plan (I/N); merge shards with kvet merge")
	fs.BoolVar(&f.quiet, "quiet", false, "print only failures and the verdict")
	fs.BoolVar(&f.verbose, "v", false, "debug log: QEMU command lines, QMP events, overhead per boot")
	fs.StringVar(&f.events, "events", "", "\"json\": progress as JSON lines on standard error")
	fs.StringVar(&f.failOn, "fail-on", "", "comma-separated verdicts that fail the run: regression, improvement, inconclusive, underpowered, not-comparable, equivalent, or none (default: the matrix's, regression)")
	fs.StringVar(&f.Mirror, "mirror", "", "Debian-style archive URL (default: the host's apt sources)")
	fs.StringVar(&f.Suite, "suite", "", "archive suite(s), space separated; alone: the host's archives with these suites")
	fs.StringVar(&f.Keyring, "keyring", "", "OpenPGP keyring that signs the archive (default: the system's)")
	fs.Int64Var(&f.Seed, "seed", 0, "seed of the boot plan and the scenarios (default: from the clock; recorded)")
	fs.StringVar(&f.runID, "run-id", "", "the run's id (shards of one run must share it; default: from the clock)")
	fs.StringVar(&f.cacheDir, "cache", "", "cache directory (default $XDG_CACHE_HOME/kvet or ~/.cache/kvet)")
	fs.StringVar(&f.qemu, "qemu", "qemu-system-x86_64", "the QEMU binary")
	fs.Var(&f.trace, "trace", "after the plan's boots, one traced boot per kernel (--trace or --trace=always), or one for the baseline and each kernel with a decided change (--trace=on-change); --trace=off: none (default: the matrix's trace:, off). A traced boot's scenarios run under the kernel's event tracer (scheduler events; TCP events for the TCP scenarios) and each scenario's trace goes to RUNDIR/traces/ for https://ui.perfetto.dev; traced boots never measure (with --resume: add them to a run)")
	fs.IntVar(&f.traceBufferKB, "trace-buffer-kb", 0, fmt.Sprintf("with --trace: the trace buffer per guest CPU in KiB, %d..%d (default %d)", wire.MinTraceBufferKB, wire.MaxTraceBufferKB, wire.DefaultTraceBufferKB))
	fs.StringVar(&f.format, "format", "text", "the report on standard output: text, markdown, json, junit or html (the run directory gets them all)")
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "[MATRIX.yaml] [flags]", "boot every kernel of a matrix (default: the embedded matrix) in QEMU, run the scenarios in each, and compare every kernel against the baseline", stderr)
	var f runFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkRunFlags(&f); err != nil {
		return err
	}
	o, mode, err := f.options(pos)
	if err != nil {
		return err
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.logLevel()}))
	if !f.quiet {
		o.Progress, o.Terminal = stderr, isTerminal(stderr)
	}
	if mode == "" {
		mode = "plain"
		if isTerminal(stderr) {
			mode = "bar"
		}
	}
	r, err := pipeline.Prepare(ctx, o)
	if err != nil {
		return err
	}
	defer r.Close()
	prog := newProgress(stderr, mode, r.Planned())
	_, err = r.Run(ctx, prog.event)
	prog.finish()
	if err != nil {
		return err
	}
	rep, err := r.Finish()
	if err != nil {
		return err
	}
	return f.report(stdout, stderr, r, rep)
}

// options checks the flags and arguments before any work and turns them
// into a run's options, with the progress mode ("" for plain or a bar).
func (f *runFlags) options(pos []string) (pipeline.Options, string, error) {
	o := pipeline.Options{
		Resume: f.resume, NameByPackage: len(f.kernels) > 0, Append: f.appendArgs, Out: f.out, RunID: f.runID,
		Parallel: f.parallel, Isolate: f.isolate, Retries: f.retries, Confirm: f.confirm, CacheDir: f.cacheDir, QEMU: f.qemu, Version: kvetVersion(),
		Trace: string(f.trace), TraceBufferKB: f.traceBufferKB,
	}
	if err := results.CheckFormat(f.format); err != nil {
		return o, "", badInput(err)
	}
	var err error
	switch {
	case f.resume != "" && (len(pos) > 0 || len(f.kernels) > 0):
		return o, "", badInputf("run: --resume takes the matrix from the run directory; give no matrix file or --kernel")
	case f.resume != "":
	case len(f.kernels) > 0 && len(pos) > 0:
		return o, "", badInputf("run: give a matrix file or --kernel, not both")
	case len(f.kernels) > 0:
		o.Matrix, err = matrix.FromKernelFiles(f.kernels)
	case len(pos) == 1:
		o.Matrix, err = matrix.Load(pos[0])
	case len(pos) == 0:
		o.Matrix, err = matrix.Default()
	default:
		return o, "", badInputf("run: one matrix file at most, got %d", len(pos))
	}
	if err != nil {
		return o, "", badInput(err)
	}
	if o.Matrix != nil {
		f.Override.Scenarios = f.scenarios
		if err := o.Matrix.Apply(f.Override); err != nil {
			return o, "", badInput(err)
		}
	}
	if f.failOn != "" {
		if o.FailOn, err = parseFailOn(f.failOn); err != nil {
			return o, "", err
		}
		if o.FailOn == nil {
			o.FailOn = []results.Verdict{} // none
		}
	}
	if f.shard != "" {
		if o.Shard, err = runner.ParseShard(f.shard); err != nil {
			return o, "", badInput(err)
		}
	}
	switch {
	case f.events == "json":
		return o, "json", nil
	case f.events != "":
		return o, "", badInputf("run: --events %q: want json", f.events)
	case f.quiet:
		return o, "quiet", nil
	}
	return o, "", nil
}

func (f *runFlags) logLevel() slog.Level {
	switch {
	case f.quiet:
		return slog.LevelWarn
	case f.verbose:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// report prints a finished run's verdict and decides the exit code.
func (f *runFlags) report(stdout, stderr io.Writer, r *pipeline.Run, rep *pipeline.Report) error {
	if rep.Comparison == nil {
		fmt.Fprintf(stdout, "shard %s of run %s: %d boots recorded in %s; merge the shards with: kvet merge -out DIR SHARDDIRS...\n", r.Record.Shard, r.Record.ID, len(rep.Boots), r.Dir.Path)
		if rep.InfraErrors {
			return infra(errors.New("some boots failed for infrastructure reasons"))
		}
		return nil
	}
	if err := results.Render(stdout, f.format, rep.Comparison, r.Record, rep.Boots, colorful(stdout)); err != nil {
		return infra(err)
	}
	reports := stdout
	if f.format != "text" && f.format != "" {
		reports = stderr // stdout holds one document
	}
	fmt.Fprintf(reports, "\nreports: %s\n", filepath.Join(r.Dir.Path, results.ReportHTML))
	writeTraced(reports, r.Dir.Path, rep.Traced)
	switch {
	case rep.Failed:
		return errFailed
	case rep.InfraErrors:
		return infra(errors.New("some boots failed for infrastructure reasons (see above); the verdicts rest on the others"))
	}
	return nil
}

// writeTraced says where a run's traces are, and which traced boots or
// traces failed.
func writeTraced(w io.Writer, dir string, traced []*results.Boot) {
	if len(traced) == 0 {
		return
	}
	files := 0
	for _, b := range traced {
		if b.Outcome != results.OK {
			fmt.Fprintf(w, "traced boot of %s: %s: %s\n", b.Kernel, b.Outcome, b.Reason)
		}
		for _, tr := range b.Traces {
			if tr.File != "" {
				files++
			}
			if tr.Error != "" {
				fmt.Fprintf(w, "trace of %s on %s: %s\n", tr.Scenario, b.Kernel, tr.Error)
			}
		}
	}
	fmt.Fprintf(w, "traces: %d from %d traced boots in %s (open one in https://ui.perfetto.dev)\n", files, len(traced), filepath.Join(dir, results.TracesDir))
}

// traceFlag is --trace alone (always) or --trace=off|always|on-change.
type traceFlag string

func (t *traceFlag) String() string { return string(*t) }

func (t *traceFlag) Set(s string) error {
	switch s {
	case "true":
		s = matrix.TraceAlways
	case "false":
		s = matrix.TraceOff
	}
	if err := matrix.CheckTrace(s); err != nil {
		return err
	}
	*t = traceFlag(s)
	return nil
}

// IsBoolFlag lets --trace stand alone.
func (t *traceFlag) IsBoolFlag() bool { return true }
