package scenarios

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

func init() {
	register(def[TimerParams]{
		Name: "timer",
		Needs: func(p *TimerParams) []string {
			for _, v := range p.Variants {
				if strings.HasPrefix(v, "fifo") {
					return []string{NeedFIFO}
				}
			}
			return nil
		},
		Measures: "cyclictest-style wakeup lateness of a thread per vCPU sleeping to absolute deadlines (SCHED_FIFO and SCHED_OTHER, idle and loaded)",
		Catches:  "PREEMPT_RT vs not, preempt= mode, tick and timer changes, EEVDF short-slice preemption",
		Defaults: timerDefaults,
		Run:      runTimer,
	})
}

// TimerParams are the timer scenario's parameters.
type TimerParams struct {
	Duration time.Duration `yaml:"duration" json:"duration" doc:"measuring time per variant"`
	Priority int           `yaml:"priority" json:"priority" doc:"SCHED_FIFO priority of the measuring threads (1..99)"`
	Variants []string      `yaml:"variants" json:"variants" doc:"POLICY-INTERVAL[-loaded]: policy fifo or other, interval 10us or more (e.g. 1ms, 100us); -loaded adds a kernel-busy SCHED_OTHER hog on every vCPU"`
	Aligned  bool          `yaml:"aligned" json:"aligned" doc:"every thread's deadlines on one shared edge (cyclictest -A 0); by default each thread counts from its own start, as cyclictest does (false)"`
}

func timerDefaults(profile string) *TimerParams {
	p := &TimerParams{
		Duration: time.Second,
		Priority: 95,
		Variants: []string{"fifo-1ms", "fifo-100us", "other-1ms", "fifo-1ms-loaded"},
	}
	if profile == Full {
		p.Duration = time.Minute
	}
	return p
}

// Validate rejects parameters that cannot give a measurement.
func (p *TimerParams) Validate() error {
	if p.Duration <= 0 {
		return fmt.Errorf("duration %v: must be positive", p.Duration)
	}
	if p.Priority < 1 || p.Priority > 99 {
		return fmt.Errorf("priority %d: must be within 1..99", p.Priority)
	}
	if len(p.Variants) == 0 {
		return errors.New("variants: at least one")
	}
	seen := map[string]bool{}
	for _, v := range p.Variants {
		if seen[v] {
			return fmt.Errorf("variant %q: listed twice", v)
		}
		seen[v] = true
		if _, err := parseTimerVariant(v); err != nil {
			return err
		}
	}
	return nil
}

// timerVariant is a parsed variant name such as "fifo-100us-loaded".
type timerVariant struct {
	name     string
	fifo     bool
	interval time.Duration
	loaded   bool
}

// minTimerInterval: below it the loop measures the sleep syscall, not wakeups.
const minTimerInterval = 10 * time.Microsecond

func parseTimerVariant(s string) (timerVariant, error) {
	v := timerVariant{name: s}
	parts := strings.Split(s, "-")
	if len(parts) == 3 && parts[2] == "loaded" {
		v.loaded = true
		parts = parts[:2]
	}
	if len(parts) != 2 {
		return v, fmt.Errorf("variant %q: want POLICY-INTERVAL or POLICY-INTERVAL-loaded", s)
	}
	switch parts[0] {
	case "fifo":
		v.fifo = true
	case "other":
	default:
		return v, fmt.Errorf("variant %q: unknown policy %q (want fifo or other)", s, parts[0])
	}
	d, err := time.ParseDuration(parts[1])
	if err != nil {
		return v, fmt.Errorf("variant %q: interval: %w", s, err)
	}
	if d < minTimerInterval {
		return v, fmt.Errorf("variant %q: interval %v below %v", s, d, minTimerInterval)
	}
	v.interval = d
	return v, nil
}

func runTimer(ctx context.Context, env Env, p *TimerParams, r *results.Scenario) (*results.Scenario, error) {
	var variants []timerVariant
	for _, s := range p.Variants {
		v, err := parseTimerVariant(s)
		if err != nil {
			return nil, err
		}
		variants = append(variants, v)
	}
	cpus := env.CPUs
	if cpus <= 0 {
		cpus = runtime.NumCPU()
	}
	if err := measure.Prepare(); err != nil {
		r.Valid, r.Invalid = false, err.Error()
		return r, nil
	}
	// Every measuring and hog thread holds a P while it runs Go code; a thread
	// back from clock_nanosleep must never wait for a P.
	if want := 2*cpus + 2; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	logf := env.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	for _, v := range variants {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, err := timerVariantRun(ctx, v, cpus, p.Priority, p.Duration, p.Aligned)
		if err != nil {
			return nil, err
		}
		if out.invalid != "" && r.Valid {
			r.Valid, r.Invalid = false, out.invalid
		}
		if out.invalid != "" {
			logf("timer %s: invalid: %s", v.name, out.invalid)
			continue
		}
		r.Metrics = append(r.Metrics, measure.Summarize(v.name+".latency", out.raw)...)
		r.Metrics = append(r.Metrics, out.noise.Metrics(v.name)...)
		r.Metrics = append(r.Metrics,
			results.Metric{Name: v.name + ".samples", Unit: "count", Better: results.Info, Value: float64(out.raw.TotalCount())},
			results.Metric{Name: v.name + ".missed", Unit: "count", Better: results.LowerIsBetter, Value: float64(out.missed),
				Samples: out.raw.TotalCount() + out.missed, Timing: true},
		)
		for _, h := range []struct {
			name      string
			corrected bool
			h         *hdrhistogram.Histogram
		}{{v.name + ".latency", false, out.raw}, {v.name + ".latency.corrected", true, out.corrected}} {
			enc, err := measure.Encode(h.name, "ns", h.corrected, h.h)
			if err != nil {
				return nil, err
			}
			r.Histograms = append(r.Histograms, enc)
		}
		logf("timer %s: %d samples, %d missed periods, p50 %d ns, max %d ns",
			v.name, out.raw.TotalCount(), out.missed, out.raw.ValueAtQuantile(50), out.raw.Max())
	}
	return r, nil
}

type timerOutcome struct {
	raw, corrected *hdrhistogram.Histogram // merged over threads
	missed         int64                   // periods skipped because a wakeup came too late
	noise          measure.Noise
	invalid        string
}

// timerThread is one measuring thread's preallocated state.
type timerThread struct {
	raw, corrected *hdrhistogram.Histogram
	samples        *measure.Samples
	missed         int64
	err            error
}

// timerVariantRun measures one variant: a thread per vCPU, optionally with a
// hog on every vCPU.
func timerVariantRun(ctx context.Context, v timerVariant, cpus, prio int, dur time.Duration, aligned bool) (timerOutcome, error) {
	threads := make([]*timerThread, cpus)
	for i := range threads {
		threads[i] = &timerThread{raw: measure.NewHist(), corrected: measure.NewHist(),
			samples: measure.NewSamples(int(dur/v.interval) + 2)}
	}
	var stop uint32
	var hogs sync.WaitGroup
	hogErr := make(chan error, cpus)
	if v.loaded {
		// A hog on every vCPU: each measuring thread competes with one on its
		// own CPU (the preemption path) and the others load the rest of the
		// machine; with one vCPU this is the same CPU.
		for cpu := 0; cpu < cpus; cpu++ {
			hogs.Add(1)
			go func() {
				defer hogs.Done()
				hogErr <- timerHog(cpu, &stop)
			}()
		}
	}
	defer func() {
		atomic.StoreUint32(&stop, 1)
		hogs.Wait()
	}()

	gcBefore := measure.GCCycles()
	var ready, done sync.WaitGroup
	ready.Add(cpus)
	done.Add(cpus)
	start := make(chan int64)
	var abort atomic.Bool
	// cancel stops the loops early when ctx ends (a flag they read at every
	// wakeup: ctx.Err() is an ordinary call).
	var cancel uint32
	stopCancel := context.AfterFunc(ctx, func() { atomic.StoreUint32(&cancel, 1) })
	defer stopCancel()
	// The last thread to end its window stops the hogs, before it calls
	// anything: the other threads of the process are idle-class during the
	// window (measure.Quiet) and would wait for CPUs the hogs hold.
	running := int32(cpus)
	// entered counts the threads inside their loops (or gone): the others
	// are lowered only then (measure.QuietWindow), since a thread handed its
	// start still needs one of them to hand it a P.
	var entered atomic.Int32
	for cpu, t := range threads {
		go func() {
			defer done.Done()
			t.err = timerSetup(cpu, v.fifo, prio)
			ready.Done()
			t0 := <-start
			if t.err != nil || abort.Load() {
				entered.Add(1)
				if atomic.AddInt32(&running, -1) == 0 {
					atomic.StoreUint32(&stop, 1)
				}
				return
			}
			if !aligned {
				// As cyclictest without -A: the thread's first deadline is
				// an interval after its own start, not a shared edge.
				t0 = measure.Now()
			}
			timerLoop(t, t0, int64(v.interval), t0+int64(dur), &cancel, &running, &stop, &entered)
		}()
	}
	ready.Wait()
	var invalid string
	for _, t := range threads {
		if t.err != nil {
			invalid = t.err.Error()
			abort.Store(true)
			break
		}
	}
	// Start on a common edge a little ahead, so every thread is back asleep.
	// The other threads are lowered to SCHED_IDLE (measure.Quiet) once the
	// start is handed out: this goroutine's thread is one of them.
	t0 := measure.Now() + int64(10*time.Millisecond)
	for range threads {
		start <- t0
	}
	endWindow := measure.QuietWindow(&entered, cpus)
	done.Wait()
	nz := endWindow()
	atomic.StoreUint32(&stop, 1)
	hogs.Wait()
	close(hogErr)
	for err := range hogErr {
		if err != nil && invalid == "" {
			invalid = "hog: " + err.Error()
		}
	}
	if gcAfter := measure.GCCycles(); gcAfter != gcBefore && invalid == "" {
		invalid = fmt.Sprintf("%d GC cycles during the measurement", gcAfter-gcBefore)
	}
	if err := ctx.Err(); err != nil {
		return timerOutcome{}, err
	}
	if why := nz.Invalid(); why != "" && invalid == "" {
		invalid = v.name + ": " + why
	}
	out := timerOutcome{raw: measure.NewHist(), corrected: measure.NewHist(), noise: nz, invalid: invalid}
	if invalid != "" {
		return out, nil
	}
	for _, t := range threads {
		out.raw.Merge(t.raw)
		out.corrected.Merge(t.corrected)
		out.missed += t.missed
	}
	return out, nil
}

// timerSetup pins the calling goroutine's thread and sets its policy. The
// thread is never unlocked: it dies with the goroutine, policy and all.
func timerSetup(cpu int, fifo bool, prio int) error {
	if err := measure.LockThread(cpu); err != nil {
		return err
	}
	if fifo {
		return measure.SetFIFO(prio)
	}
	return measure.SetOther(0)
}

// timerLoop sleeps to absolute deadlines every interval from t0 until end
// (measure.SleepLoop, which calls nothing that could hand the thread's P
// around) and then records how late each wakeup was. A wakeup later than
// the next deadline skips the deadlines already past (counted as missed);
// the corrected histogram adds back the samples a fixed-rate observer
// would have seen.
// It counts itself in entered as it enters its loop; when it is the last of
// the running threads to end its loop, it stops the hogs.
func timerLoop(t *timerThread, t0, interval, end int64, cancel *uint32, running *int32, hogStop *uint32, entered *atomic.Int32) {
	entered.Add(1)
	t.missed += measure.SleepLoop(t.samples, t0, interval, end, cancel)
	if atomic.AddInt32(running, -1) == 0 {
		atomic.StoreUint32(hogStop, 1)
	}
	for _, late := range t.samples.Values() {
		measure.Record(t.raw, late)
		t.corrected.RecordCorrectedValue(min(max(late, measure.HistMin), measure.HistMax), interval)
	}
	t.samples.Reset()
}

// timerHog keeps a CPU busy in the kernel (copying from /dev/zero) as a
// SCHED_OTHER thread: a wakeup must preempt kernel work, which is where
// preemption models differ. A pure user-space loop would be preempted at
// once on any kernel.
func timerHog(cpu int, stop *uint32) error {
	if err := measure.LockThread(cpu); err != nil {
		return err
	}
	if err := measure.SetOther(0); err != nil {
		return err
	}
	// Raw reads, as the measured calls: a hog in Go's system call path kept
	// sysmon polling every 20 us, thousands of wakeups a second; and a
	// nosplit loop (measure.Spin), so that it is never asked to yield.
	// Without /dev/zero it keeps the CPU busy in user space.
	buf := make([]byte, 1<<20)
	fd, err := unix.Open("/dev/zero", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd = -1
	} else {
		defer unix.Close(fd)
	}
	if err := measure.Spin(fd, buf, stop); err != nil {
		return fmt.Errorf("/dev/zero: %w", err)
	}
	return nil
}
