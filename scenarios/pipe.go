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

// pingPonger is one transport: ping sends a request and waits for the
// answer; serve answers until stop. Each runs on its own locked thread.
type pingPonger interface {
	ping() error
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
		h, n, elapsed, err := pingPong(pp, p.CPU, other, int64(p.DurationMs)*int64(time.Millisecond))
		pp.close()
		if err != nil {
			return nil, fmt.Errorf("pipe %s: %w", v.name, err)
		}
		if n == 0 {
			schedInvalidate(r, "%s: no round trip completed", v.name)
		}
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
// dur ns and returns their latencies, count and the window's length.
func pingPong(pp pingPonger, cpu, other int, dur int64) (*hdrhistogram.Histogram, int64, int64, error) {
	h := measure.Prefault(measure.NewHist())
	var (
		gate              measure.Gate
		ready             measure.Latch
		failed            atomic.Bool // a thread could not be set up: neither runs
		wg                sync.WaitGroup
		serveErr, pingErr error
		n, elapsed        int64
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if serveErr = pinOther(other); serveErr != nil {
			failed.Store(true)
		}
		ready.Arrive()
		gate.Wait()
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
		if failed.Load() {
			return
		}
		start := measure.Now()
		end := start + dur
		t := start
		for t < end {
			if pingErr = pp.ping(); pingErr != nil {
				break
			}
			t1 := measure.Now()
			measure.Record(h, t1-t)
			n++
			t = t1
		}
		elapsed = t - start
		if err := pp.stop(); err != nil && pingErr == nil {
			pingErr = err
		}
	}()
	ready.WaitFor(2)
	gate.Open()
	wg.Wait()
	return h, n, elapsed, errors.Join(pingErr, serveErr)
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

func (pp *pipePair) ping() error {
	pp.buf[0] = 'p'
	if err := pipeXfer(unix.Write, pp.req[1], pp.buf[:]); err != nil {
		return err
	}
	return pipeXfer(unix.Read, pp.resp[0], pp.buf[:])
}

func (pp *pipePair) serve() error {
	for {
		if err := pipeXfer(unix.Read, pp.req[0], pp.sbuf[:]); err != nil {
			return err
		}
		if pp.sbuf[0] == 'q' {
			return nil
		}
		if err := pipeXfer(unix.Write, pp.resp[1], pp.sbuf[:]); err != nil {
			return err
		}
	}
}

func (pp *pipePair) stop() error {
	return pipeXfer(unix.Write, pp.req[1], []byte{'q'})
}

func (pp *pipePair) close() {
	for _, fd := range []int{pp.req[0], pp.req[1], pp.resp[0], pp.resp[1]} {
		unix.Close(fd)
	}
}

// pipeXfer does one blocking read or write of a single byte, retrying on
// EINTR.
func pipeXfer(op func(int, []byte) (int, error), fd int, b []byte) error {
	for {
		n, err := op(fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n != len(b):
			return fmt.Errorf("fd %d: short transfer %d of %d bytes", fd, n, len(b))
		}
		return nil
	}
}

// futexPair ping-pongs sequence numbers through two futex words.
type futexPair struct {
	req, resp uint32
	seq       uint32
	done      uint32
}

func newFutexPair() (pingPonger, error) { return &futexPair{}, nil }

func (f *futexPair) ping() error {
	f.seq++
	atomic.StoreUint32(&f.req, f.seq)
	if _, err := measure.FutexWake(&f.req, 1); err != nil {
		return err
	}
	for {
		v := atomic.LoadUint32(&f.resp)
		if v == f.seq {
			return nil
		}
		if err := measure.FutexWait(&f.resp, v); err != nil {
			return err
		}
	}
}

func (f *futexPair) serve() error {
	var last uint32
	for {
		v := atomic.LoadUint32(&f.req)
		if v == last {
			if err := measure.FutexWait(&f.req, v); err != nil {
				return err
			}
			continue
		}
		if atomic.LoadUint32(&f.done) != 0 {
			return nil
		}
		last = v
		atomic.StoreUint32(&f.resp, v)
		if _, err := measure.FutexWake(&f.resp, 1); err != nil {
			return err
		}
	}
}

func (f *futexPair) stop() error {
	atomic.StoreUint32(&f.done, 1)
	atomic.AddUint32(&f.req, 1)
	_, err := measure.FutexWake(&f.req, 1)
	return err
}

func (f *futexPair) close() {}
