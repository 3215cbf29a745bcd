package pipeline

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kvet/kvet/images"
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// TestRunTraced: with Trace, a run boots one traced boot per kernel after
// the plan's last round, numbered after it; they are recorded apart and
// change no verdict, however far off their values are. A resume with Trace
// runs only what is missing.
func TestRunTraced(t *testing.T) {
	traceOf := func(dir string, trace string, launch runner.LaunchFunc) *Run {
		r, _ := adaptiveRun(t, dir, launch)
		r.Record.Kernels = []results.Kernel{{Name: "a"}, {Name: "b"}, {Name: "c"}}
		r.opts.Trace, r.launchFn, r.Parallel = trace, launch, 2
		return r
	}
	var tracedLaunches atomic.Int32
	launch := func(ctx context.Context, e results.PlanEntry, attempt int, s runner.Slot) *results.Boot {
		b := fakeBoot(ctx, e, attempt, s)
		if e.Trace {
			tracedLaunches.Add(1)
			b.Scenarios[0].Metrics[0].Value *= 100 // tracing slows everything
			b.Traces = []results.TraceFile{{Scenario: "s", File: results.TraceFileName(e.Kernel, e.Index, "s")}}
		}
		return b
	}
	plain := traceOf(t.TempDir(), "", fakeBoot)
	if _, err := plain.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	want, err := plain.Finish()
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	r := traceOf(dir, matrix.TraceAlways, launch)
	if _, err := r.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	got, err := r.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Boots) != len(want.Boots) || len(got.Traced) != 3 || tracedLaunches.Load() != 3 {
		t.Fatalf("%d boots and %d traced (%d launched); want %d and 3", len(got.Boots), len(got.Traced), tracedLaunches.Load(), len(want.Boots))
	}
	looks, _ := r.Dir.Looks()
	planned := len(results.FullPlan(r.Record, looks))
	for i, b := range got.Traced {
		if !b.Traced || b.Seq != planned+i || b.Index != 0 || b.ConsoleFile != "" && filepath.Dir(b.ConsoleFile) != results.TracesDir {
			t.Errorf("traced boot %d: %+v, want seq %d after the plan's %d", i, b, planned+i, planned)
		}
	}
	if g, w := got.Comparison.Kernels, want.Comparison.Kernels; len(g) != len(w) || g[0].Metrics[0].Verdict != w[0].Metrics[0].Verdict ||
		!reflect.DeepEqual(g[1].Metrics[0].Cand, w[1].Metrics[0].Cand) {
		t.Errorf("traced boots changed the comparison")
	}
	if n := r.Planned(); n != planned+3 {
		t.Errorf("Planned = %d, want the plan's %d and 3 traced", n, planned)
	}

	// A resume with Trace of a run that has them all boots nothing; one
	// without a traced boot boots it.
	again := traceOf(dir, matrix.TraceAlways, launch)
	sum, err := again.Run(t.Context(), nil)
	if err != nil || sum.Ran != 0 || tracedLaunches.Load() != 3 {
		t.Errorf("resume: %+v, %v, %d traced launches; want nothing booted", sum, err, tracedLaunches.Load())
	}
	later := traceOf(plain.Dir.Path, matrix.TraceAlways, launch)
	if sum, err := later.Run(t.Context(), nil); err != nil || sum.Ran != 3 || tracedLaunches.Load() != 6 {
		t.Errorf("traces added to a finished run: %+v, %v; want the 3 traced boots only", sum, err)
	}

	// On a change: the baseline a and b (twice as slow, decided) get a
	// traced boot; c (undecided) does not. Planned does not count them
	// before the verdicts.
	launched := map[string]int{}
	var mu sync.Mutex
	onChange := traceOf(t.TempDir(), matrix.TraceOnChange, func(ctx context.Context, e results.PlanEntry, attempt int, s runner.Slot) *results.Boot {
		if e.Trace {
			mu.Lock()
			launched[e.Kernel]++
			mu.Unlock()
		}
		return launch(ctx, e, attempt, s)
	})
	before := onChange.Planned()
	if _, err := onChange.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(launched, map[string]int{"a": 1, "b": 1}) {
		t.Errorf("traced on a change: %v, want a and b once", launched)
	}
	if before != 9 {
		t.Errorf("Planned before the run = %d, want the first round's 9", before)
	}
	// Nothing changed, nothing traced.
	clear(launched)
	quiet := traceOf(t.TempDir(), matrix.TraceOnChange, func(ctx context.Context, e results.PlanEntry, attempt int, s runner.Slot) *results.Boot {
		if e.Trace {
			launched[e.Kernel]++
		}
		e.Kernel = "a" // every kernel measures as the baseline does
		return fakeBoot(ctx, e, attempt, s)
	})
	quiet.Parallel = 1
	if _, err := quiet.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if len(launched) != 0 {
		t.Errorf("traced without a change: %v", launched)
	}
}

// TestLaunchSpecTraced: a traced entry's guest is asked for traces, with the
// run's buffer, and its console and traces go to traces/; a measurement
// entry's is not.
func TestLaunchSpecTraced(t *testing.T) {
	m, err := matrix.Parse("m.yaml", []byte("boots: 3\nkernels:\n  - {name: a, deb: a.deb}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &Run{Matrix: m, Dir: &results.Dir{Path: dir}, Record: &results.Run{Seed: 2}, Accel: "tcg",
		byName: map[string]*kernels.Kernel{"a": {Name: "a"}}, specs: map[string]kernels.Spec{"a": {Name: "a"}},
		images: map[string]*images.Image{"a": {Path: "/img"}}, plan: wire.Plan{Scenarios: []wire.Invocation{{Name: "nagle"}}},
		opts: Options{Trace: matrix.TraceAlways, TraceBufferKB: 4096}}
	r.log = discard()
	spec := r.launchSpec(results.PlanEntry{Seq: 3, Kernel: "a"}, runner.Slot{})
	if spec.Plan.Trace || spec.TraceFile != nil || spec.ConsolePath != filepath.Join(dir, "console", "a.000.log") {
		t.Errorf("measurement entry: trace %t, console %s", spec.Plan.Trace, spec.ConsolePath)
	}
	spec = r.launchSpec(results.PlanEntry{Seq: 3, Kernel: "a", Trace: true}, runner.Slot{})
	if !spec.Plan.Trace || spec.Plan.TraceBufferKB != 4096 || spec.TraceDir != dir || spec.ConsolePath != filepath.Join(dir, "traces", "a.000.log") {
		t.Errorf("traced entry: plan %+v, trace dir %s, console %s", spec.Plan, spec.TraceDir, spec.ConsolePath)
	}
	if got := spec.TraceFile("nagle"); got != "traces/a.000.nagle.trace.gz" {
		t.Errorf("trace file %s", got)
	}
	if r.plan.Trace {
		t.Errorf("the run's plan was changed")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
