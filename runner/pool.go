package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kvet/kvet/results"
)

// LaunchFunc runs one boot of the plan (attempt counts from 1) in a worker
// slot and returns its result, never nil.
type LaunchFunc func(ctx context.Context, e results.PlanEntry, attempt int, slot Slot) *results.Boot

// Slot is a worker's place in the pool: guests launched in different slots
// run at the same time, so they get disjoint host CPUs.
type Slot struct {
	Index int
	// CPUs are the host CPUs reserved for this slot's guests' vCPUs (see
	// CPUSets); nil when guests are not pinned. Emulator is where their
	// QEMU's other threads go: the spare CPUs, or CPUs when there are none.
	CPUs, Emulator []int
}

// Event reports the pool's progress.
type Event struct {
	Kind    string            `json:"event"` // "start", "retry", "confirm", "end", "skip"
	Entry   results.PlanEntry `json:"boot"`
	Attempt int               `json:"attempt,omitempty"`
	Outcome results.Outcome   `json:"outcome,omitempty"`
	Reason  string            `json:"reason,omitempty"`
	Slot    int               `json:"slot"`
	Wall    time.Duration     `json:"wall_ns,omitempty"`
	// Overhead is the boot's host-side time, its result write included.
	Overhead time.Duration `json:"host_overhead_ns,omitempty"`
	Done     int           `json:"done"`  // boots finished, this run and before
	Total    int           `json:"total"` // boots in the plan
	Failed   int           `json:"failed"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Left     time.Duration `json:"remaining_ns"` // estimate, 0 when unknown
	Boot     *results.Boot `json:"-"`
}

// Pool runs a plan's boots, Parallel at a time, writing each finished boot
// to Dir the moment it ends. Boots already in Dir are skipped, so running a
// plan again resumes it. Infrastructure errors are retried up to Retries
// times; a kernel's panic or hang is a result and is never retried away.
type Pool struct {
	Parallel int
	Retries  int
	// Confirm is how many times a boot that panicked or hung is run again
	// on the same kernel to see whether the fault reproduces; the tries
	// are recorded in the boot (Unconfirmed).
	Confirm int
	Dir     *results.Dir
	Launch  LaunchFunc
	// CPUSets, when it has a set for every worker, pins worker i's guests
	// to CPUSets[i] (see CPUSets). Otherwise guests are not pinned.
	CPUSets [][]int
	// SpareCPUs, when set, take every guest's emulator threads (see
	// SpareCPUs); otherwise they share their slot's CPUs.
	SpareCPUs []int
	// OnEvent, when set, is called for every event, one call at a time.
	OnEvent func(Event)
}

// Summary counts what a pool run did.
type Summary struct {
	Ran, Skipped, Failed, InfraErrors, Retries int
	// Wall is the sum of the boots' walls, Overhead of their host-side
	// times including the result writes.
	Wall, Overhead time.Duration
}

// Run runs the plan. It returns when every boot has ended or ctx is done; a
// boot cut short by cancellation is not recorded, so a resume runs it again.
func (p *Pool) Run(ctx context.Context, plan []results.PlanEntry) (Summary, error) {
	var (
		mu      sync.Mutex
		sum     Summary
		done    int
		walls   time.Duration
		ran     int
		start   = time.Now()
		firstEr error
	)
	par := max(p.Parallel, 1)
	emit := func(ev Event) {
		// called with mu held
		ev.Done, ev.Total, ev.Failed = done, len(plan), sum.Failed
		ev.Elapsed = time.Since(start)
		if ran > 0 {
			left := len(plan) - done
			ev.Left = time.Duration(int64(walls) / int64(ran) * int64(left) / int64(min(par, max(left, 1))))
		}
		if p.OnEvent != nil {
			p.OnEvent(ev)
		}
	}
	var todo []results.PlanEntry
	mu.Lock()
	for _, e := range plan {
		if p.Dir.Has(e) {
			done++
			sum.Skipped++
			emit(Event{Kind: "skip", Entry: e})
			continue
		}
		todo = append(todo, e)
	}
	mu.Unlock()

	work := make(chan results.PlanEntry)
	var wg sync.WaitGroup
	for w := 0; w < min(par, max(len(todo), 1)); w++ {
		slot := Slot{Index: w}
		if len(p.CPUSets) >= par {
			slot.CPUs, slot.Emulator = p.CPUSets[w], p.CPUSets[w]
			if len(p.SpareCPUs) > 0 {
				slot.Emulator = p.SpareCPUs
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				b := p.one(ctx, e, slot, &mu, &sum, emit)
				if b == nil {
					continue // interrupted: not a result
				}
				t := time.Now()
				err := p.Dir.WriteBoot(b)
				// The write cannot be inside the file it writes: it counts
				// in the event and the summary.
				overhead := b.HostOverhead + time.Since(t)
				mu.Lock()
				sum.Wall += b.Wall
				sum.Overhead += overhead
				if err != nil && firstEr == nil {
					firstEr = fmt.Errorf("record boot %s: %w", e.Kernel, err)
				}
				done++
				ran++
				sum.Ran++
				walls += b.Wall
				if b.Outcome != results.OK {
					sum.Failed++
					if b.Outcome == results.InfraError {
						sum.InfraErrors++
					}
				}
				emit(Event{Kind: "end", Entry: e, Attempt: b.Attempt, Outcome: b.Outcome, Reason: b.Reason, Slot: slot.Index, Wall: b.Wall, Overhead: overhead, Boot: b})
				mu.Unlock()
			}
		}()
	}
feed:
	for _, e := range todo {
		select {
		case work <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstEr != nil {
		return sum, firstEr
	}
	return sum, ctx.Err()
}

// one runs a boot with its retries and fault confirmations; nil means
// cancelled.
func (p *Pool) one(ctx context.Context, e results.PlanEntry, slot Slot, mu *sync.Mutex, sum *Summary, emit func(Event)) *results.Boot {
	var tries []results.FaultTry
	infra := 0
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return nil
		}
		mu.Lock()
		emit(Event{Kind: "start", Entry: e, Attempt: attempt, Slot: slot.Index})
		mu.Unlock()
		b := p.Launch(ctx, e, attempt, slot)
		if ctx.Err() != nil {
			return nil
		}
		b.Kernel, b.Index, b.Seq, b.Attempt, b.Traced = e.Kernel, e.Index, e.Seq, attempt, e.Trace
		kind := ""
		switch {
		case b.Outcome == results.InfraError && infra < p.Retries:
			infra++
			kind = "retry"
		case (b.Outcome == results.KernelPanic || b.Outcome == results.Hang) && len(tries) < p.Confirm:
			tries = append(tries, p.faultTry(b, attempt))
			kind = "confirm"
		}
		if kind == "" {
			b.Unconfirmed = tries
			return b
		}
		mu.Lock()
		if kind == "retry" {
			sum.Retries++
		}
		emit(Event{Kind: kind, Entry: e, Attempt: attempt, Outcome: b.Outcome, Reason: b.Reason, Slot: slot.Index})
		mu.Unlock()
	}
}

// faultTry records a faulted try of a boot before it is run again: its
// console is kept beside the boot's own as NAME.tryN.log.
func (p *Pool) faultTry(b *results.Boot, attempt int) results.FaultTry {
	f := results.FaultTry{Outcome: b.Outcome, Reason: b.Reason}
	console := b.ConsoleTail
	if b.ConsoleFile != "" && p.Dir != nil {
		src := filepath.Join(p.Dir.Path, b.ConsoleFile)
		rel := strings.TrimSuffix(b.ConsoleFile, ".log") + fmt.Sprintf(".try%d.log", attempt)
		if data, err := os.ReadFile(src); err == nil {
			console = string(data)
			if os.Rename(src, filepath.Join(p.Dir.Path, rel)) == nil {
				f.ConsoleFile = rel
			}
		}
	}
	f.Decisive = results.DecisiveLines(console)
	f.Artefact = results.KnownArtefact(b.Accel, console)
	return f
}
