package runner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

func newDir(t *testing.T) *results.Dir {
	d, err := results.CreateDir(t.TempDir(), &results.Run{ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPoolRetriesInfraErrorsOnly(t *testing.T) {
	d := newDir(t)
	var calls sync.Map
	p := &Pool{Parallel: 2, Retries: 2, Dir: d, Launch: func(ctx context.Context, e results.PlanEntry, attempt int, _ Slot) *results.Boot {
		n, _ := calls.LoadOrStore(e.Kernel, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		switch e.Kernel {
		case "flaky": // infra error on the first attempt only
			if attempt == 1 {
				return &results.Boot{Outcome: results.InfraError, Reason: "qemu died"}
			}
		case "broken": // infra error always
			return &results.Boot{Outcome: results.InfraError, Reason: "qemu died"}
		case "panics":
			return &results.Boot{Outcome: results.KernelPanic}
		}
		return &results.Boot{Outcome: results.OK}
	}}
	plan := PlanBoots([]string{"flaky", "broken", "panics", "fine"}, 1, 1)
	sum, err := p.Run(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	count := func(k string) int32 { n, _ := calls.Load(k); return n.(*atomic.Int32).Load() }
	if got := count("flaky"); got != 2 {
		t.Errorf("flaky launched %d times, want 2", got)
	}
	if got := count("broken"); got != 3 {
		t.Errorf("broken launched %d times, want 3 (1 + 2 retries)", got)
	}
	if got := count("panics"); got != 1 {
		t.Errorf("a kernel panic was retried: %d launches, want 1", got)
	}
	if sum.Ran != 4 || sum.Retries != 3 || sum.InfraErrors != 1 || sum.Failed != 2 {
		t.Errorf("summary = %+v", sum)
	}
	boots, _ := d.Boots()
	for _, b := range boots {
		if b.Kernel == "flaky" && (b.Outcome != results.OK || b.Attempt != 2) {
			t.Errorf("flaky recorded as %s attempt %d, want ok attempt 2", b.Outcome, b.Attempt)
		}
	}
}

// TestPoolResumeAfterInterrupt cancels runs at random points and resumes
// until done: every boot is recorded exactly once and none is run after it
// was recorded.
func TestPoolResumeAfterInterrupt(t *testing.T) {
	for trial := 0; trial < 5; trial++ {
		d := newDir(t)
		plan := PlanBoots([]string{"a", "b", "c"}, 6, int64(trial))
		var launches sync.Map
		rng := rand.New(rand.NewPCG(uint64(trial), 9))
		for round := 0; round < 50; round++ {
			ctx, cancel := context.WithCancel(context.Background())
			stopAfter := int32(rng.IntN(5))
			var started atomic.Int32
			p := &Pool{Parallel: 3, Dir: d, Launch: func(ctx context.Context, e results.PlanEntry, attempt int, _ Slot) *results.Boot {
				if d.HasBoot(e.Kernel, e.Index) {
					t.Errorf("boot %s#%d launched after it was recorded", e.Kernel, e.Index)
				}
				if started.Add(1) > stopAfter {
					cancel()
				}
				launches.Store(results.BootKey(e.Kernel, e.Index), true)
				select {
				case <-ctx.Done():
				case <-time.After(time.Millisecond):
				}
				return &results.Boot{Outcome: results.OK, Wall: time.Millisecond}
			}}
			_, err := p.Run(ctx, plan)
			cancel()
			if err == nil {
				break
			}
		}
		boots, err := d.Boots()
		if err != nil {
			t.Fatal(err)
		}
		if len(boots) != len(plan) {
			t.Fatalf("trial %d: %d boots recorded, want %d", trial, len(boots), len(plan))
		}
		seen := map[string]bool{}
		for _, b := range boots {
			if seen[b.Key()] {
				t.Errorf("boot %s recorded twice", b.Key())
			}
			seen[b.Key()] = true
		}
	}
}

// TestPoolSlots: guests running at the same time are in different slots,
// each slot keeps its CPU set, and without a set per worker nothing is
// pinned.
func TestPoolSlots(t *testing.T) {
	tests := []struct {
		name     string
		parallel int
		sets     [][]int
		spare    []int
		pinned   bool
	}{
		{"pinned", 2, [][]int{{0}, {1}}, nil, true},
		{"pinned with spare CPUs", 2, [][]int{{0}, {1}}, []int{2, 3}, true},
		{"too few sets", 3, [][]int{{0}, {1}}, []int{2}, false},
		{"no sets", 2, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				busy   = map[int]bool{}
				errs   []string
				cpusOf = map[int][]int{}
				emuOf  = map[int][]int{}
			)
			p := &Pool{Parallel: tt.parallel, Dir: newDir(t), CPUSets: tt.sets, SpareCPUs: tt.spare,
				Launch: func(ctx context.Context, e results.PlanEntry, attempt int, s Slot) *results.Boot {
					mu.Lock()
					if busy[s.Index] {
						errs = append(errs, fmt.Sprintf("two guests at once in slot %d", s.Index))
					}
					busy[s.Index] = true
					cpusOf[s.Index] = s.CPUs
					emuOf[s.Index] = s.Emulator
					mu.Unlock()
					time.Sleep(time.Millisecond)
					mu.Lock()
					busy[s.Index] = false
					mu.Unlock()
					return &results.Boot{Outcome: results.OK}
				}}
			if _, err := p.Run(context.Background(), PlanBoots([]string{"a", "b", "c"}, 4, 1)); err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Error(e)
			}
			if len(cpusOf) != tt.parallel {
				t.Errorf("slots used = %d, want %d", len(cpusOf), tt.parallel)
			}
			for i, cpus := range cpusOf {
				switch {
				case tt.pinned && !slices.Equal(cpus, tt.sets[i]):
					t.Errorf("slot %d CPUs = %v, want %v", i, cpus, tt.sets[i])
				case !tt.pinned && (cpus != nil || emuOf[i] != nil):
					t.Errorf("slot %d CPUs = %v, emulator %v, want none", i, cpus, emuOf[i])
				case tt.pinned && len(tt.spare) > 0 && !slices.Equal(emuOf[i], tt.spare):
					t.Errorf("slot %d emulator CPUs = %v, want the spare %v", i, emuOf[i], tt.spare)
				case tt.pinned && len(tt.spare) == 0 && !slices.Equal(emuOf[i], tt.sets[i]):
					t.Errorf("slot %d emulator CPUs = %v, want its own %v", i, emuOf[i], tt.sets[i])
				}
			}
		})
	}
}

// TestPoolConfirmsFaults: a boot that panicked or hung runs once more; a
// fault that does not come back is recorded as a one-off on the OK boot,
// one that does stands, and neither an OK boot nor an infrastructure error
// is run again for it. The faulted try's console is kept beside the boot's.
func TestPoolConfirmsFaults(t *testing.T) {
	d := newDir(t)
	var calls sync.Map
	p := &Pool{Parallel: 2, Retries: 1, Confirm: 1, Dir: d, Launch: func(ctx context.Context, e results.PlanEntry, attempt int, _ Slot) *results.Boot {
		n, _ := calls.LoadOrStore(e.Kernel, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		console := results.ConsoleFile(e.Kernel, e.Index)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(d.Path, console)), 0o755); err != nil {
			t.Error(err)
		}
		os.WriteFile(filepath.Join(d.Path, console), []byte(fmt.Sprintf("attempt %d\nOops: int3\n", attempt)), 0o644)
		b := &results.Boot{Outcome: results.OK, Accel: "tcg", ConsoleFile: console}
		switch {
		case e.Kernel == "once" && attempt == 1:
			b.Outcome, b.Reason = results.KernelPanic, "Oops: int3"
		case e.Kernel == "always":
			b.Outcome, b.Reason = results.KernelPanic, "Kernel panic - not syncing: Attempted to kill init!"
		case e.Kernel == "hangs" && attempt == 1:
			b.Outcome = results.Hang
		}
		return b
	}}
	sum, err := p.Run(context.Background(), PlanBoots([]string{"once", "always", "hangs", "fine"}, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	count := func(k string) int32 { n, _ := calls.Load(k); return n.(*atomic.Int32).Load() }
	for k, want := range map[string]int32{"once": 2, "always": 2, "hangs": 2, "fine": 1} {
		if got := count(k); got != want {
			t.Errorf("%s launched %d times, want %d", k, got, want)
		}
	}
	if sum.Failed != 1 || sum.Retries != 0 {
		t.Errorf("summary = %+v, want one failed boot and no infrastructure retries", sum)
	}
	boots, _ := d.Boots()
	for _, b := range boots {
		switch b.Kernel {
		case "once":
			if b.Outcome != results.OK || len(b.Unconfirmed) != 1 || b.Unconfirmed[0].Outcome != results.KernelPanic || b.Unconfirmed[0].Artefact == "" {
				t.Errorf("once = %s with tries %+v, want ok with one unconfirmed panic known as an artefact", b.Outcome, b.Unconfirmed)
			} else if data, err := os.ReadFile(filepath.Join(d.Path, b.Unconfirmed[0].ConsoleFile)); err != nil || !strings.Contains(string(data), "attempt 1") {
				t.Errorf("the first try's console %q: %q, %v; want attempt 1's", b.Unconfirmed[0].ConsoleFile, data, err)
			}
		case "always":
			if b.Outcome != results.KernelPanic || len(b.Unconfirmed) != 1 {
				t.Errorf("always = %s with %d tries, want a panic confirmed by a second one", b.Outcome, len(b.Unconfirmed))
			}
		case "hangs":
			if b.Outcome != results.OK || len(b.Unconfirmed) != 1 || b.Unconfirmed[0].Outcome != results.Hang {
				t.Errorf("hangs = %s with tries %+v, want ok after one unconfirmed hang", b.Outcome, b.Unconfirmed)
			}
		case "fine":
			if len(b.Unconfirmed) != 0 {
				t.Errorf("fine has tries %+v", b.Unconfirmed)
			}
		}
	}
}

// TestPoolTracedBoots: a traced entry's boot is recorded as traced, apart
// from the measurement boot of the same kernel and index, and a resume
// skips it.
func TestPoolTracedBoots(t *testing.T) {
	d := newDir(t)
	plan := PlanBoots([]string{"a", "b"}, 1, 1)
	plan = append(plan, PlanTraces([]string{"a", "b"}, len(plan))...)
	var launched atomic.Int32
	p := &Pool{Parallel: 1, Dir: d, Launch: func(ctx context.Context, e results.PlanEntry, attempt int, _ Slot) *results.Boot {
		launched.Add(1)
		return &results.Boot{Outcome: results.OK}
	}}
	if _, err := p.Run(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	boots, _ := d.Boots()
	traced, _ := d.TracedBoots()
	if len(boots) != 2 || len(traced) != 2 || launched.Load() != 4 {
		t.Fatalf("%d boots, %d traced after %d launches; want 2, 2 and 4", len(boots), len(traced), launched.Load())
	}
	for _, b := range traced {
		if !b.Traced || b.Index != 0 || b.Seq < 2 {
			t.Errorf("traced boot %+v", b)
		}
	}
	sum, err := p.Run(t.Context(), plan)
	if err != nil || sum.Skipped != 4 || launched.Load() != 4 {
		t.Errorf("resume: %+v, %v, %d launches; want every boot skipped", sum, err, launched.Load())
	}
}
