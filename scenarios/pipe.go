package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// PipeParams are the parameters of the pipe scenario.
type PipeParams struct {
	DurationMs int `yaml:"duration_ms" json:"duration_ms" doc:"window of each of the four variants in ms (quick 250, full 10000)"`
	CPU        int `yaml:"cpu" json:"cpu" doc:"CPU of the pinging thread, and of both threads in the same-CPU variants (quick 0, full 0)"`
	OtherCPU   int `yaml:"other_cpu" json:"other_cpu" doc:"CPU of the answering thread in the cross-CPU variants (quick 1, full 1)"`
}

// Validate rejects values the scenario cannot run with.
func (p *PipeParams) Validate() error {
	switch {
	case p.DurationMs < 10 || p.DurationMs > 3_600_000:
		return fmt.Errorf("duration_ms %d: want 10..3600000", p.DurationMs)
	case p.CPU < 0 || p.CPU > 4095:
		return fmt.Errorf("cpu %d: want 0..4095", p.CPU)
	case p.OtherCPU < 0 || p.OtherCPU > 4095:
		return fmt.Errorf("other_cpu %d: want 0..4095", p.OtherCPU)
	case p.OtherCPU == p.CPU:
		return fmt.Errorf("other_cpu %d: must differ from cpu", p.OtherCPU)
	}
	return nil
}

func init() {
	register(def[PipeParams]{
		Name:     "pipe",
		Measures: "ping-pong round trips between two threads over pipes and over futexes, on one CPU and across two",
		Catches:  "context-switch and wakeup path cost",
		Defaults: func(profile string) *PipeParams {
			if profile == Full {
				return &PipeParams{DurationMs: 10_000, CPU: 0, OtherCPU: 1}
			}
			return &PipeParams{DurationMs: 250, CPU: 0, OtherCPU: 1}
		},
		Run: runPipe,
	})
}

// pingPonger is one transport: window makes round trips until end or
// until s is full, recording each; serve answers until stop. Each runs on
// its own locked thread, in a nosplit loop (measure.PingPongs and Relay,
// FutexPingPongs and FutexRelay): nothing in them hands the thread's P
// around, so the process's other threads are lowered during the window
// (measure.Quiet).
type pingPonger interface {
	window(s *measure.Samples, end int64) (int, error)
	serve() error
	stop() error
	close()
}

func runPipe(ctx context.Context, env Env, p *PipeParams, r *results.Scenario) (*results.Scenario, error) {
	w, err := measure.Begin(2)
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	defer w.End()
	if p.CPU >= env.CPUs {
		return nil, fmt.Errorf("pipe: cpu %d: the guest has %d CPUs", p.CPU, env.CPUs)
	}
	cross := p.OtherCPU < env.CPUs
	if !cross {
		note := fmt.Sprintf("pipe-cross, futex-cross: skipped, other_cpu %d but %d CPU(s)", p.OtherCPU, env.CPUs)
		r.Notes = append(r.Notes, note)
		schedLog(env, "pipe: %s", note)
	}
	t0 := measure.Now()
	for _, v := range []struct {
		name      string
		transport func() (pingPonger, error)
		cross     bool
	}{
		{"pipe-same", newPipePair, false},
		{"futex-same", newFutexPair, false},
		{"pipe-cross", newPipePair, true},
		{"futex-cross", newFutexPair, true},
	} {
		if v.cross && !cross {
			continue
		}
		if ctx.Err() != nil {
			schedInvalidate(r, "cancelled: %v", ctx.Err())
			break
		}
		pp, err := v.transport()
		if err != nil {
			return nil, fmt.Errorf("pipe %s: %w", v.name, err)
		}
		other := p.CPU
		if v.cross {
			other = p.OtherCPU
		}
		h, n, elapsed, nz, err := pingPong(pp, p.CPU, other, int64(p.DurationMs)*int64(time.Millisecond))
		pp.close()
		if err != nil {
			return nil, fmt.Errorf("pipe %s: %w", v.name, err)
		}
		if n == 0 {
			schedInvalidate(r, "%s: no round trip completed", v.name)
		}
		schedNoise(r, v.name, nz)
		schedLog(env, "pipe %s: %d round trips, %s", v.name, n, nz)
		if err := schedHist(r, v.name, h); err != nil {
			return nil, err
		}
		r.Metrics = append(r.Metrics, schedMetric(v.name+".round_trips_per_s", "ops/s", results.HigherIsBetter, schedPerSecond(n, elapsed), true))
	}
	schedCheckGC(r, w)
	r.Duration = time.Duration(measure.Now() - t0)
	return r, nil
}

// pingPong runs round trips from a thread on cpu to a thread on other for
// dur ns and returns their latencies, count, the window's length and kvet's
// self-noise during it.
func pingPong(pp pingPonger, cpu, other int, dur int64) (*hdrhistogram.Histogram, int64, int64, measure.Noise, error) {
	h := measure.Prefault(measure.NewHist())
	samples := measure.NewSamples(measure.Chunk)
	var (
		gate              measure.Gate
		ready             measure.Latch
		failed            atomic.Bool // a thread could not be set up: neither runs
		wg                sync.WaitGroup
		serveErr, pingErr error
		n, elapsed        int64
		entered           atomic.Int32 // threads past the gate (measure.QuietWindow)
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if serveErr = pinOther(other); serveErr != nil {
			failed.Store(true)
		}
		ready.Arrive()
		gate.Wait()
		entered.Add(1)
		if !failed.Load() {
			serveErr = pp.serve()
		}
	}()
	go func() {
		defer wg.Done()
		if pingErr = pinOther(cpu); pingErr != nil {
			failed.Store(true)
		}
		ready.Arrive()
		gate.Wait()
		entered.Add(1)
		if failed.Load() {
			return
		}
		start := measure.Now()
		end := start + dur
		t := start
		for t < end && pingErr == nil {
			var k int
			k, pingErr = pp.window(samples, end)
			n += int64(k)
			t = measure.Now()
			samples.MoveTo(h)
			if k == 0 {
				break
			}
		}
		elapsed = t - start
		if err := pp.stop(); err != nil && pingErr == nil {
			pingErr = err
		}
	}()
	ready.WaitFor(2)
	gate.Open()
	endWindow := measure.QuietWindow(&entered, 2)
	wg.Wait()
	nz := endWindow()
	return h, n, elapsed, nz, errors.Join(pingErr, serveErr)
}

// pinOther locks the calling goroutine to a thread on cpu running
// SCHED_OTHER at nice 0.
func pinOther(cpu int) error {
	if err := measure.LockThread(cpu); err != nil {
		return err
	}
	return measure.SetOther(0)
}

// pipePair ping-pongs one byte over two pipes.
type pipePair struct {
	req, resp [2]int // read end, write end
	buf       [1]byte
	sbuf      [1]byte
}

func newPipePair() (pingPonger, error) {
	pp := &pipePair{}
	if err := unix.Pipe2(pp.req[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	if err := unix.Pipe2(pp.resp[:], unix.O_CLOEXEC); err != nil {
		unix.Close(pp.req[0])
		unix.Close(pp.req[1])
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	return pp, nil
}

// window runs the round trips in measure.PingPongs.
func (pp *pipePair) window(s *measure.Samples, end int64) (int, error) {
	return measure.PingPongs(pp.req[1], pp.resp[0], pp.buf[:], s, end)
}

// serve answers each byte until the pinging side closes its end of the
// request pipe (stop).
func (pp *pipePair) serve() error {
	return measure.Relay(pp.req[0], pp.resp[1], pp.sbuf[:])
}

// stop closes the request pipe's write end: serve reads its end and
// returns.
func (pp *pipePair) stop() error {
	fd := pp.req[1]
	pp.req[1] = -1
	return unix.Close(fd)
}

func (pp *pipePair) close() {
	for _, fd := range []int{pp.req[0], pp.req[1], pp.resp[0], pp.resp[1]} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// futexPair ping-pongs sequence numbers through two futex words.
type futexPair struct {
	req, resp uint32
	seq       uint32
	done      uint32
}

func newFutexPair() (pingPonger, error) { return &futexPair{}, nil }

// window runs the round trips in measure.FutexPingPongs.
func (f *futexPair) window(s *measure.Samples, end int64) (int, error) {
	return measure.FutexPingPongs(&f.req, &f.resp, &f.seq, s, end)
}

// serve answers in measure.FutexRelay until stop.
func (f *futexPair) serve() error { return measure.FutexRelay(&f.req, &f.resp, &f.done) }

func (f *futexPair) stop() error {
	atomic.StoreUint32(&f.done, 1)
	atomic.AddUint32(&f.req, 1)
	_, err := measure.FutexWake(&f.req, 1)
	return err
}

func (f *futexPair) close() {}
