package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// hackbenchMsgSize is the size of every message, as in hackbench.
const hackbenchMsgSize = 100

// HackbenchParams are the parameters of the hackbench scenario.
type HackbenchParams struct {
	Groups    int `yaml:"groups" json:"groups" doc:"independent groups of senders and receivers (quick 2, full 10)"`
	Senders   int `yaml:"senders" json:"senders" doc:"sender threads per group (quick 5, full 20)"`
	Receivers int `yaml:"receivers" json:"receivers" doc:"receiver threads per group, one socketpair each (quick 5, full 20)"`
	Loops     int `yaml:"loops" json:"loops" doc:"messages of 100 bytes each sender sends to each receiver of its group (quick 100, full 1000)"`
}

// Validate rejects values the scenario cannot run with.
func (p *HackbenchParams) Validate() error {
	switch {
	case p.Groups < 1 || p.Groups > 100:
		return fmt.Errorf("groups %d: want 1..100", p.Groups)
	case p.Senders < 1 || p.Senders > 100:
		return fmt.Errorf("senders %d: want 1..100", p.Senders)
	case p.Receivers < 1 || p.Receivers > 100:
		return fmt.Errorf("receivers %d: want 1..100", p.Receivers)
	case p.Groups*(p.Senders+p.Receivers) > 2000:
		return fmt.Errorf("groups %d x (senders %d + receivers %d): more than 2000 threads", p.Groups, p.Senders, p.Receivers)
	case p.Loops < 1 || p.Loops > 10_000_000:
		return fmt.Errorf("loops %d: want 1..10000000", p.Loops)
	}
	return nil
}

func init() {
	register(def[HackbenchParams]{
		Name:     "hackbench",
		Measures: "groups of senders and receivers exchanging 100-byte messages over AF_UNIX socketpairs: total time, messages/s, context switches per message",
		Catches:  "over-scheduling regressions: more switches or slower wakeups under many runnable threads",
		Defaults: func(profile string) *HackbenchParams {
			if profile == Full {
				return &HackbenchParams{Groups: 10, Senders: 20, Receivers: 20, Loops: 1000}
			}
			return &HackbenchParams{Groups: 2, Senders: 5, Receivers: 5, Loops: 100}
		},
		Run: runHackbench,
	})
}

type hackbenchThread struct {
	sw  measure.Switches
	end int64 // CLOCK_MONOTONIC ns when the thread finished
	err error
}

func runHackbench(ctx context.Context, env Env, p *HackbenchParams, r *results.Scenario) (*results.Scenario, error) {
	threads := p.Groups * (p.Senders + p.Receivers)
	w, err := measure.Begin(threads)
	if err != nil {
		return nil, fmt.Errorf("hackbench: %w", err)
	}
	defer w.End()

	// One socketpair per receiver: the receiver reads [0], all senders of its
	// group write [1].
	socks := make([][2]int, p.Groups*p.Receivers)
	defer func() {
		for _, sv := range socks {
			if sv[0] > 0 {
				unix.Close(sv[0])
				unix.Close(sv[1])
			}
		}
	}()
	for i := range socks {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("hackbench: socketpair: %w", err)
		}
		socks[i] = [2]int{fds[0], fds[1]}
	}

	var (
		gate    measure.Gate
		ready   measure.Latch
		failed  atomic.Bool
		wg      sync.WaitGroup
		entered atomic.Int32 // threads past the gate (measure.QuietWindow)
		state   = make([]hackbenchThread, threads)
	)
	want := p.Senders * p.Loops * hackbenchMsgSize // bytes per receiver
	ti := 0
	for g := range p.Groups {
		group := socks[g*p.Receivers : (g+1)*p.Receivers]
		for _, sv := range group {
			st := &state[ti]
			ti++
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, hackbenchMsgSize)
				hackbenchThreadRun(st, &gate, &ready, &failed, &entered, func() error { return measure.ReceiveMessages(sv[0], buf, want) })
			}()
		}
		fds := make([]int, len(group))
		for i, sv := range group {
			fds[i] = sv[1]
		}
		for range p.Senders {
			st := &state[ti]
			ti++
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := make([]byte, hackbenchMsgSize)
				hackbenchThreadRun(st, &gate, &ready, &failed, &entered, func() error { return measure.SendMessages(fds, msg, p.Loops) })
			}()
		}
	}
	ready.WaitFor(uint32(threads))
	start := measure.Now()
	gate.Open()
	endWindow := measure.QuietWindow(&entered, threads)
	wg.Wait()
	nz := endWindow()

	var (
		sw   measure.Switches
		end  int64
		errs []error
	)
	for _, st := range state {
		sw = sw.Add(st.sw)
		end = max(end, st.end)
		errs = append(errs, st.err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("hackbench: %w", err)
	}
	schedCheckGC(r, w)
	schedNoise(r, "", nz)
	if ctx.Err() != nil {
		schedInvalidate(r, "cancelled: %v", ctx.Err())
	}
	elapsed := end - start
	msgs := int64(p.Groups) * int64(p.Senders) * int64(p.Receivers) * int64(p.Loops)
	r.Metrics = append(r.Metrics,
		schedMetric("time", "ms", results.LowerIsBetter, float64(elapsed)/1e6, true),
		schedMetric("messages_per_s", "ops/s", results.HigherIsBetter, schedPerSecond(msgs, elapsed), true),
		schedMetric("switches_per_message", "count", results.LowerIsBetter, float64(sw.Total())/float64(msgs), false),
		schedMetric("switches.voluntary", "count", results.Info, float64(sw.Voluntary), false),
		schedMetric("switches.involuntary", "count", results.Info, float64(sw.Involuntary), false),
	)
	r.Duration = time.Duration(elapsed)
	schedLog(env, "hackbench: %d messages between %d threads in %v", msgs, threads, r.Duration)
	return r, nil
}

// hackbenchThreadRun sets the calling goroutine up as a locked SCHED_OTHER
// thread, waits for the start and runs work, counting its context switches.
func hackbenchThreadRun(st *hackbenchThread, gate *measure.Gate, ready *measure.Latch, failed *atomic.Bool, entered *atomic.Int32, work func() error) {
	if st.err = pinOther(-1); st.err != nil {
		failed.Store(true)
	}
	ready.Arrive()
	gate.Wait()
	entered.Add(1)
	if failed.Load() {
		return
	}
	sw0 := measure.ThreadSwitches()
	st.err = work()
	st.end = measure.Now()
	st.sw = measure.ThreadSwitches().Sub(sw0)
}
