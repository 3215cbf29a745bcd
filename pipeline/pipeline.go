// Package pipeline owns one run of kvet, from a matrix to the reports:
// Prepare resolves the kernels, builds their images, chooses the
// accelerator, sizes the pool of guests and creates (or reopens) the run
// directory; Run boots the plan; Finish compares the boots and writes the
// reports. Its errors say whose fault they are (Kind); it neither parses
// flags nor prints.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/kvet/kvet/images"
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// Options are a run's choices beyond its matrix. The zero value of each
// field is its default.
type Options struct {
	// Matrix is the run's matrix, overrides applied; nil with Resume.
	Matrix *matrix.Matrix
	// Resume is a run directory whose missing boots to run, with the
	// matrix and kernels recorded there.
	Resume string
	// NameByPackage names a kernel resolved from a .deb whose file name is
	// a content hash after its package (kernels given as files).
	NameByPackage bool
	// FailOn are the verdicts that fail the run; nil: the matrix's, an
	// empty list: none.
	FailOn []results.Verdict
	// Shard is the share of the plan to run (zero: all of it; a resumed
	// shard stays its shard).
	Shard runner.Shard
	// Append is added to every kernel's command line.
	Append string
	// Out is the new run directory (default results/ID); RunID the run's
	// id (default run-YYYYMMDD-HHMMSS).
	Out, RunID string
	// Parallel guests at once (default: the matrix's, else as many as the
	// host's CPUs hold); Isolate runs one guest at a time.
	Parallel int
	Isolate  bool
	// Retries of a boot that failed for infrastructure reasons.
	Retries int
	// Confirm is how many times a boot that panicked or hung is run again
	// to see whether the fault reproduces (0: never). A fault that does not
	// reproduce is a one-off: noted in the report, not a failure.
	Confirm int
	// CacheDir holds kernels, images and the accelerator probe (default
	// DefaultCacheDir).
	CacheDir string
	// QEMU is the QEMU binary (default qemu-system-x86_64).
	QEMU string
	// Version is kvet's version, recorded with the host.
	Version string
	// Logger gets the run's log (default: none).
	Logger *slog.Logger
	// Progress shows downloads (default: none).
	Progress io.Writer
	// Terminal says Progress is a terminal: a progress display, not lines.
	Terminal bool
	// Trace adds traced boots after the plan's boots (matrix.TraceAlways:
	// one per kernel; matrix.TraceOnChange: one for the baseline and one
	// per kernel with a decided change; "": the matrix's trace:). A traced
	// boot's scenarios run under the kernel's event tracer and their traces
	// are kept in the run directory. A traced boot never measures; a
	// resumed run with Trace adds the traced boots it lacks.
	Trace string
	// TraceBufferKB is the trace buffer per CPU of a traced boot (0: the
	// default; bounded, see wire.TraceBuffer).
	TraceBufferKB int
}

// Kind says whose fault an error is.
type Kind int

const (
	// Infra is the machinery's fault: QEMU missing, the accelerator
	// broken, a download or the disk failed.
	Infra Kind = iota
	// BadInput is the user's: a matrix, kernel file or run directory.
	BadInput
	// KernelFailed is a kernel's: it panicked, hung or regressed.
	KernelFailed
)

// Error is an error of a run with its kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func badInput(err error) error { return &Error{BadInput, err} }
func infra(err error) error    { return &Error{Infra, err} }

// KindOf is the kind of err: BadInput for a matrix error, Infra for an
// error of no kind.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var me *matrix.Error
	if errors.As(err, &me) {
		return BadInput
	}
	return Infra
}

// Run is a prepared run.
type Run struct {
	Matrix *matrix.Matrix
	Dir    *results.Dir
	Record *results.Run
	// Accel is the accelerator chosen; Parallel the guests at once.
	Accel    string
	Parallel int

	opts      Options
	log       *slog.Logger
	qemu      string
	kernels   []*kernels.Kernel
	byName    map[string]*kernels.Kernel
	specs     map[string]kernels.Spec // by kernel name: a series shares its entry's spec
	images    map[string]*images.Image
	plan      wire.Plan
	cpuSets   [][]int
	spare     []int
	keptPool  bool // a resumed run keeps its recorded pool and pinning
	scratchMB int  // the scratch disk a boot needs (MiB), 0: none
	claim     *runner.CPUClaim
	infraErr  bool
	launchFn  runner.LaunchFunc // boots an entry; nil: launch (QEMU)
}

// Prepare gets everything a run needs before its first boot. Close the
// run when done with it.
func Prepare(ctx context.Context, o Options) (_ *Run, err error) {
	r := &Run{opts: o, log: o.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	var old *results.Run
	if o.Resume != "" {
		if old, err = r.reopen(); err != nil {
			return nil, err
		}
	} else if r.Matrix = o.Matrix; r.Matrix == nil {
		return nil, badInput(errors.New("run: no matrix"))
	} else if r.Matrix.Adaptive() && o.Shard.N > 1 {
		return nil, badInput(errors.New("run: boots: auto cannot be sharded: the shards of a run share a fixed plan (give --boots N)"))
	}
	if err := matrix.CheckTrace(o.Trace); err != nil {
		return nil, badInput(fmt.Errorf("run: %w", err))
	}
	if r.traceMode() == matrix.TraceOnChange && r.opts.Shard.N > 1 {
		return nil, badInput(errors.New("run: trace: on-change cannot be sharded: a shard has no verdicts (trace the merged run with kvet run --resume DIR --trace=on-change)"))
	}
	self, cache, err := r.machinery()
	if err != nil {
		return nil, err
	}
	// Before any download: a nice value this host refuses fails at once.
	if n := r.Matrix.QEMUNice; n != 0 {
		if err := runner.CanRenice(n); err != nil {
			return nil, infra(fmt.Errorf("%s: %w", r.Matrix.File, err))
		}
	}
	setupStart := time.Now()
	if err := r.resolveKernels(ctx, cache, old); err != nil {
		return nil, err
	}
	if err := r.buildImages(ctx, self, cache); err != nil {
		return nil, err
	}
	host := hostInfo(r.qemu, o.Version)
	if err := r.chooseAccel(ctx, cache, host, old); err != nil {
		return nil, err
	}
	if err := r.shapePool(cache); err != nil {
		return nil, err
	}
	if old == nil {
		if err := r.create(host); err != nil {
			return nil, err
		}
	}
	r.log.Info("run", "dir", r.Dir.Path, "kernels", len(r.kernels), "boots", r.Matrix.Boots, "accel", r.Accel, "parallel", r.Parallel,
		"pinned", r.cpuSets != nil, "setup", time.Since(setupStart).Round(time.Millisecond))
	return r, nil
}

// reopen opens the run directory to resume and its matrix.
func (r *Run) reopen() (*results.Run, error) {
	dir, old, err := results.OpenDir(r.opts.Resume)
	if err != nil {
		return nil, badInput(err)
	}
	m, err := matrix.Parse(filepath.Join(r.opts.Resume, results.RunFile)+" (matrix)", []byte(old.Matrix))
	if err != nil {
		return nil, badInput(err)
	}
	if _, err := dir.Boots(); err != nil {
		return nil, badInput(fmt.Errorf("run: resume %s: %w", r.opts.Resume, err)) // as kvet show says
	}
	r.keptPool = resumePool(&r.opts, old)
	if r.opts.Shard == (runner.Shard{}) && old.Shard != "" {
		if r.opts.Shard, err = runner.ParseShard(old.Shard); err != nil {
			return nil, badInput(fmt.Errorf("run: resume %s: %w", r.opts.Resume, err))
		}
	}
	r.Matrix, r.Dir, r.Record = m, dir, old
	return old, nil
}

// machinery finds QEMU, kvet itself as a static binary, and the cache.
func (r *Run) machinery() (self, cache string, err error) {
	name := r.opts.QEMU
	if name == "" {
		name = "qemu-system-x86_64"
	}
	if r.qemu, err = exec.LookPath(name); err != nil {
		return "", "", infra(fmt.Errorf("%s not found: install QEMU (apt-get install qemu-system-x86, or run 'make run', which does it)", name))
	}
	if self, err = os.Executable(); err != nil {
		return "", "", infra(err)
	}
	if err := images.CheckStatic(self); err != nil {
		return "", "", infra(err)
	}
	if cache = r.opts.CacheDir; cache == "" {
		if cache, err = DefaultCacheDir(); err != nil {
			return "", "", infra(err)
		}
	}
	return self, cache, nil
}

// DefaultCacheDir is $XDG_CACHE_HOME/kvet, else the user's cache
// directory's kvet.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kvet"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set XDG_CACHE_HOME or --cache")
	}
	return filepath.Join(d, "kvet"), nil
}

// Close releases what the run holds (its claim on host CPUs).
func (r *Run) Close() {
	if r.claim != nil {
		r.claim.Release()
		r.claim = nil
	}
}
