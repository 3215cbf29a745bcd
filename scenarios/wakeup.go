package scenarios

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// WakeupParams are the parameters of the wakeup scenario.
type WakeupParams struct {
	MessageThreads int `yaml:"message_threads" json:"message_threads" doc:"threads that wake workers (quick 2, full 2)"`
	Workers        int `yaml:"workers" json:"workers" doc:"workers per message thread; 0 = one per online CPU (quick 2, full 0)"`
	DurationMs     int `yaml:"duration_ms" json:"duration_ms" doc:"measurement window in ms (quick 1500, full 30000)"`
	RequestLoops   int `yaml:"request_loops" json:"request_loops" doc:"rounds of integer mixing a worker does per request (quick 2000, full 2000)"`
}

// Validate rejects values the scenario cannot run with.
func (p *WakeupParams) Validate() error {
	switch {
	case p.MessageThreads < 1 || p.MessageThreads > 64:
		return fmt.Errorf("message_threads %d: want 1..64", p.MessageThreads)
	case p.Workers < 0 || p.Workers > 256:
		return fmt.Errorf("workers %d: want 0..256 (0: one per CPU)", p.Workers)
	case p.DurationMs < 10 || p.DurationMs > 3_600_000:
		return fmt.Errorf("duration_ms %d: want 10..3600000", p.DurationMs)
	case p.RequestLoops < 0 || p.RequestLoops > 100_000_000:
		return fmt.Errorf("request_loops %d: want 0..100000000", p.RequestLoops)
	}
	return nil
}

func init() {
	register(def[WakeupParams]{
		Name:     "wakeup",
		Measures: "schbench-style: message threads wake workers through futexes; wakeup and request latency, requests/s, context switches per request",
		Catches:  "CFS -> EEVDF, delayed dequeue, slice defaults, wake-affine placement",
		Defaults: func(profile string) *WakeupParams {
			if profile == Full {
				return &WakeupParams{MessageThreads: 2, Workers: 0, DurationMs: 30_000, RequestLoops: 2000}
			}
			return &WakeupParams{MessageThreads: 2, Workers: 2, DurationMs: 1500, RequestLoops: 2000}
		},
		Run: runWakeup,
	})
}

type wakeupWorker struct {
	futex  uint32 // 1: a request is posted
	stop   uint32
	wakeAt int64 // CLOCK_MONOTONIC ns of the futex wake call
	wake   *hdrhistogram.Histogram
	req    *hdrhistogram.Histogram
	// wakeS and reqS take the window's samples (the loops are nosplit and
	// call no histogram method); they are moved into wake and req when full
	// and at the end.
	wakeS, reqS *measure.Samples
	n           int64
	sw          measure.Switches
	sink        uint64
}

type wakeupMsg struct {
	pending uint32 // workers still busy with this round's request
	workers []*wakeupWorker
	sw      measure.Switches
}

func runWakeup(ctx context.Context, env Env, p *WakeupParams, r *results.Scenario) (*results.Scenario, error) {
	workers := p.Workers
	if workers == 0 {
		workers = max(env.CPUs, 1)
	}
	threads := p.MessageThreads * (workers + 1)
	w, err := measure.Begin(threads)
	if err != nil {
		return nil, fmt.Errorf("wakeup: %w", err)
	}
	defer w.End()

	msgs := make([]*wakeupMsg, p.MessageThreads)
	var all []*wakeupWorker
	for i := range msgs {
		m := &wakeupMsg{}
		for range workers {
			wk := &wakeupWorker{wake: measure.Prefault(measure.NewHist()), req: measure.Prefault(measure.NewHist()),
				wakeS: measure.NewSamples(measure.Chunk), reqS: measure.NewSamples(measure.Chunk)}
			m.workers = append(m.workers, wk)
			all = append(all, wk)
		}
		msgs[i] = m
	}

	var (
		gate    measure.Gate
		ready   measure.Latch
		wg      sync.WaitGroup
		errs    = make(chan error, threads)
		start   int64
		entered atomic.Int32 // threads past the gate (measure.QuietWindow)
		// cancel stops the message loops early when ctx ends (a flag they
		// read every round: ctx.Err() is an ordinary call).
		cancel uint32
	)
	stopCancel := context.AfterFunc(ctx, func() { atomic.StoreUint32(&cancel, 1) })
	defer stopCancel()
	dur := int64(p.DurationMs) * int64(time.Millisecond)
	for _, m := range msgs {
		for _, wk := range m.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := wakeupWorkerLoop(m, wk, p.RequestLoops, &gate, &ready, &entered); err != nil {
					errs <- err
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wakeupMsgLoop(m, &gate, &ready, &entered, &start, dur, &cancel); err != nil {
				errs <- err
			}
		}()
	}
	ready.WaitFor(uint32(threads))
	atomic.StoreInt64(&start, measure.Now())
	gate.Open()
	endWindow := measure.QuietWindow(&entered, threads)
	wg.Wait()
	nz := endWindow()
	elapsed := measure.Now() - atomic.LoadInt64(&start)
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("wakeup: %w", err)
	}
	schedCheckGC(r, w)
	schedNoise(r, "wakeup", nz)
	if ctx.Err() != nil {
		schedInvalidate(r, "cancelled: %v", ctx.Err())
	}

	var (
		n  int64
		sw measure.Switches
		wh []*hdrhistogram.Histogram
		rh []*hdrhistogram.Histogram
	)
	for _, m := range msgs {
		sw = sw.Add(m.sw)
		for _, wk := range m.workers {
			n += wk.n
			sw = sw.Add(wk.sw)
			wh = append(wh, wk.wake)
			rh = append(rh, wk.req)
		}
	}
	if n == 0 {
		schedInvalidate(r, "no request completed in %d ms", p.DurationMs)
		n = 1 // keep the per-request ratios finite
	}
	if err := schedHist(r, "wakeup", schedMerge(wh)); err != nil {
		return nil, err
	}
	if err := schedHist(r, "request", schedMerge(rh)); err != nil {
		return nil, err
	}
	r.Metrics = append(r.Metrics,
		schedMetric("requests_per_s", "ops/s", results.HigherIsBetter, schedPerSecond(n, elapsed), true),
		schedMetric("switches.voluntary_per_request", "count", results.Info, float64(sw.Voluntary)/float64(n), false),
		schedMetric("switches.involuntary_per_request", "count", results.LowerIsBetter, float64(sw.Involuntary)/float64(n), false),
	)
	r.Duration = time.Duration(elapsed)
	schedLog(env, "wakeup: %d requests by %d workers in %v", n, len(all), r.Duration)
	return r, nil
}

// wakeupMsgLoop posts a request to each of its workers, waits until all have
// answered and repeats until the window ends, then stops its workers.
func wakeupMsgLoop(m *wakeupMsg, gate *measure.Gate, ready *measure.Latch, entered *atomic.Int32, start *int64, dur int64, cancel *uint32) error {
	if err := measure.LockThread(-1); err != nil {
		ready.Arrive()
		return err
	}
	err := measure.SetOther(0)
	ready.Arrive()
	gate.Wait()
	entered.Add(1)
	end := atomic.LoadInt64(start) + dur
	sw0 := measure.ThreadSwitches()
	if err == nil {
		wakeupMsgWindow(m, end, cancel)
	}
	m.sw = measure.ThreadSwitches().Sub(sw0)
	for _, wk := range m.workers {
		atomic.StoreUint32(&wk.stop, 1)
		atomic.StoreUint32(&wk.futex, 1)
		measure.FutexWake(&wk.futex, 1)
	}
	return err
}

// wakeupMsgWindow is the message thread's window, a nosplit loop of raw
// futex calls: nothing in it hands the thread's P around.
//
//go:nosplit
func wakeupMsgWindow(m *wakeupMsg, end int64, cancel *uint32) {
	for measure.Now() < end && atomic.LoadUint32(cancel) == 0 {
		atomic.StoreUint32(&m.pending, uint32(len(m.workers)))
		for i := 0; i < len(m.workers); i++ {
			wk := m.workers[i]
			atomic.StoreInt64(&wk.wakeAt, measure.Now())
			atomic.StoreUint32(&wk.futex, 1)
			measure.FutexWakeRaw(&wk.futex, 1)
		}
		for {
			v := atomic.LoadUint32(&m.pending)
			if v == 0 {
				break
			}
			measure.FutexWaitRaw(&m.pending, v)
		}
	}
}

// wakeupWorkerLoop waits for requests, records how long the wakeup took and
// how long until the request was done, and answers.
func wakeupWorkerLoop(m *wakeupMsg, wk *wakeupWorker, loops int, gate *measure.Gate, ready *measure.Latch, entered *atomic.Int32) error {
	if err := measure.LockThread(-1); err != nil {
		ready.Arrive()
		return err
	}
	err := measure.SetOther(0)
	ready.Arrive()
	gate.Wait()
	entered.Add(1)
	sw0 := measure.ThreadSwitches()
	for {
		stopped := wakeupWorkerWindow(m, wk, loops)
		wk.wakeS.MoveTo(wk.wake)
		wk.reqS.MoveTo(wk.req)
		if stopped {
			break
		}
	}
	wk.sw = measure.ThreadSwitches().Sub(sw0)
	return err
}

// wakeupWorkerWindow is a worker's window, a nosplit loop of raw futex
// calls recording into wakeS and reqS: it returns true when told to stop,
// false when they are full.
//
//go:nosplit
func wakeupWorkerWindow(m *wakeupMsg, wk *wakeupWorker, loops int) bool {
	for !wk.wakeS.Full() && !wk.reqS.Full() {
		for atomic.LoadUint32(&wk.futex) == 0 {
			measure.FutexWaitRaw(&wk.futex, 0)
		}
		t := measure.Now()
		atomic.StoreUint32(&wk.futex, 0)
		if atomic.LoadUint32(&wk.stop) != 0 {
			return true
		}
		at := atomic.LoadInt64(&wk.wakeAt)
		wk.wakeS.Add(t - at)
		wk.sink ^= measure.Work(loops)
		wk.reqS.Add(measure.Now() - at)
		wk.n++
		if atomic.AddUint32(&m.pending, ^uint32(0)) == 0 {
			measure.FutexWakeRaw(&m.pending, 1)
		}
	}
	return false
}
