package scenarios

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// RTHogParams are the parameters of the rt-hog scenario.
type RTHogParams struct {
	CPU          int `yaml:"cpu" json:"cpu" doc:"CPU shared by the hog and the fair thread (quick 0, full 0)"`
	WindowMs     int `yaml:"window_ms" json:"window_ms" doc:"how long the SCHED_FIFO hog spins, in ms; it stops itself after this (quick 2000, full 20000)"`
	PeriodUs     int `yaml:"period_us" json:"period_us" doc:"period of the SCHED_OTHER thread, absolute deadlines, in us (quick 1000, full 1000)"`
	WorkUs       int `yaml:"work_us" json:"work_us" doc:"CPU time the fair thread uses per period, in us (quick 100, full 100)"`
	FIFOPriority int `yaml:"fifo_priority" json:"fifo_priority" doc:"SCHED_FIFO priority of the hog (quick 50, full 50)"`
}

// Validate rejects values the scenario cannot run with.
func (p *RTHogParams) Validate() error {
	switch {
	case p.CPU < 0 || p.CPU > 4095:
		return fmt.Errorf("cpu %d: want 0..4095", p.CPU)
	case p.WindowMs < 10 || p.WindowMs > 600_000:
		// The hog owns a CPU for the whole window: keep it bounded.
		return fmt.Errorf("window_ms %d: want 10..600000", p.WindowMs)
	case p.PeriodUs < 10 || p.PeriodUs > 1_000_000:
		return fmt.Errorf("period_us %d: want 10..1000000", p.PeriodUs)
	case p.WorkUs < 0 || p.WorkUs >= p.PeriodUs:
		return fmt.Errorf("work_us %d: want 0..period_us-1 (%d)", p.WorkUs, p.PeriodUs-1)
	case p.FIFOPriority < 1 || p.FIFOPriority > 99:
		return fmt.Errorf("fifo_priority %d: want 1..99", p.FIFOPriority)
	case int64(p.WindowMs)*1000/int64(p.PeriodUs) < 2:
		return fmt.Errorf("window_ms %d: shorter than two periods of %d us", p.WindowMs, p.PeriodUs)
	}
	return nil
}

func init() {
	register(def[RTHogParams]{
		Name:     "rt-hog",
		Needs:    func(*RTHogParams) []string { return []string{NeedFIFO} },
		Measures: "a bounded SCHED_FIFO busy loop and a 1 ms periodic SCHED_OTHER thread on one CPU: the fair thread's worst delay, missed periods and CPU time",
		Catches:  "RT throttling (sched_rt_runtime_us) vs the 6.12 fair deadline server",
		Defaults: func(profile string) *RTHogParams {
			if profile == Full {
				return &RTHogParams{CPU: 0, WindowMs: 20_000, PeriodUs: 1000, WorkUs: 100, FIFOPriority: 50}
			}
			return &RTHogParams{CPU: 0, WindowMs: 2000, PeriodUs: 1000, WorkUs: 100, FIFOPriority: 50}
		},
		Run: runRTHog,
	})
}

type rtHogFair struct {
	late, corrected *hdrhistogram.Histogram
	onTime          int64 // periods served with lateness below a period
	cpu             int64 // CPU time used in the window, ns
	err             error
}

func runRTHog(ctx context.Context, env Env, p *RTHogParams, r *results.Scenario) (*results.Scenario, error) {
	if p.CPU >= env.CPUs {
		return nil, fmt.Errorf("rt-hog: cpu %d: the guest has %d CPUs", p.CPU, env.CPUs)
	}
	r.Metrics = append(r.Metrics, rtHogKnobs(p.CPU)...)

	w, err := measure.Begin(2)
	if err != nil {
		return nil, fmt.Errorf("rt-hog: %w", err)
	}
	defer w.End()

	fair := &rtHogFair{late: measure.Prefault(measure.NewHist()), corrected: measure.Prefault(measure.NewHist())}
	var (
		gate   measure.Gate
		ready  measure.Latch
		failed atomic.Bool
		wg     sync.WaitGroup
		start  int64
		hogErr error
		hogCPU int64
		window = int64(p.WindowMs) * int64(time.Millisecond)
		period = int64(p.PeriodUs) * int64(time.Microsecond)
		work   = int64(p.WorkUs) * int64(time.Microsecond)
	)
	wg.Add(2)
	go func() { // the hog
		defer wg.Done()
		if hogErr = measure.LockThread(p.CPU); hogErr == nil {
			hogErr = measure.SetFIFO(p.FIFOPriority)
		}
		if hogErr != nil {
			failed.Store(true)
		}
		ready.Arrive()
		gate.Wait()
		if failed.Load() {
			return
		}
		c0 := measure.ThreadCPUTime()
		// Bounded by the clock alone: the guest must come back even if the
		// fair thread never runs again.
		measure.SpinUntil(atomic.LoadInt64(&start) + window)
		hogCPU = measure.ThreadCPUTime() - c0
		measure.SetOther(0) // leave nothing real-time behind while the thread exits
	}()
	go func() { // the fair thread
		defer wg.Done()
		if fair.err = pinOther(p.CPU); fair.err != nil {
			failed.Store(true)
		}
		ready.Arrive()
		gate.Wait()
		if failed.Load() {
			return
		}
		rtHogFairLoop(fair, atomic.LoadInt64(&start), window, period, work)
	}()
	ready.WaitFor(2)
	atomic.StoreInt64(&start, measure.Now())
	gate.Open()
	noise := measure.StartNoise()
	wg.Wait()
	nz := noise.End()
	elapsed := measure.Now() - start
	r.Duration = time.Duration(elapsed)

	if fair.err != nil {
		return nil, fmt.Errorf("rt-hog: fair thread: %w", fair.err)
	}
	if hogErr != nil {
		// No real-time class (an unprivileged guest, a kernel without it):
		// the scenario's condition cannot be held.
		schedInvalidate(r, "hog: %v", hogErr)
		return r, nil
	}
	schedCheckGC(r, w)
	schedNoise(r, "", nz)
	if fair.late.TotalCount() == 0 {
		schedInvalidate(r, "the fair thread never ran in %d ms", p.WindowMs)
	}
	if err := schedHist(r, "lateness", fair.late); err != nil {
		return nil, err
	}
	c, err := measure.Encode("lateness", "ns", true, fair.corrected)
	if err != nil {
		return nil, err
	}
	r.Histograms = append(r.Histograms, c)
	periods := window / period
	if fair.late.Max() >= window {
		// Valid, and the finding itself: nothing let the fair thread run
		// until the hog stopped.
		r.Notes = append(r.Notes, fmt.Sprintf("the fair thread was starved for the whole %d ms window: neither RT throttling nor a deadline server let it run", p.WindowMs))
	}
	missed := 1 - float64(min(fair.onTime, periods))/float64(periods)
	// What rt-hog asks: does the fair thread meet its deadlines and get its
	// CPU: the primary metrics, both shares of 0..1.
	missedM := schedMetric("missed_fraction", "ratio", results.LowerIsBetter, missed, true)
	missedM.Primary, missedM.Fraction, missedM.Samples = true, true, periods
	shareM := schedMetric("fair_cpu_share", "ratio", results.HigherIsBetter, float64(fair.cpu)/float64(window), true)
	shareM.Primary, shareM.Fraction = true, true
	r.Metrics = append(r.Metrics,
		missedM,
		schedMetric("fair_cpu", "ms", results.HigherIsBetter, float64(fair.cpu)/1e6, true),
		shareM,
		schedMetric("hog_cpu_share", "ratio", results.Info, float64(hogCPU)/float64(window), true),
	)
	schedLog(env, "rt-hog: hog spun %v of %v; fair thread served %d of %d periods on time, ran %v",
		time.Duration(hogCPU), time.Duration(window), fair.onTime, periods, time.Duration(fair.cpu))
	return r, nil
}

// rtHogFairLoop sleeps to absolute deadlines every period until the window
// ends, records how late each wakeup was and then uses work ns of CPU.
// Deadlines that passed while the thread could not run are skipped, not
// caught up: they count as missed.
func rtHogFairLoop(f *rtHogFair, start, window, period, work int64) {
	end := start + window
	c0 := measure.ThreadCPUTime()
	for next := start + period; ; {
		measure.SleepUntil(next)
		now := measure.Now()
		late := now - next
		measure.Record(f.late, late)
		f.corrected.RecordCorrectedValue(max(late, measure.HistMin), period)
		if now >= end {
			break
		}
		if late < period {
			f.onTime++
		}
		measure.SpinCPU(work)
		next += (late/period + 1) * period
	}
	f.cpu = measure.ThreadCPUTime() - c0
}

// rtHogKnobs records the kernel knobs that decide how much a fair thread gets
// under a real-time hog: RT throttling and, where the kernel has it, the
// fair deadline server (probed, not inferred from the version).
func rtHogKnobs(cpu int) []results.Metric {
	var ms []results.Metric
	for _, k := range []struct{ name, path, unit string }{
		{"sched_rt_runtime_us", "/proc/sys/kernel/sched_rt_runtime_us", "us"},
		{"sched_rt_period_us", "/proc/sys/kernel/sched_rt_period_us", "us"},
	} {
		if v, err := measure.ReadIntFile(k.path); err == nil {
			ms = append(ms, schedMetric(k.name, k.unit, results.Info, float64(v), false))
		}
	}
	if _, err := os.Stat("/sys/kernel/debug/sched"); err != nil {
		return ms // debugfs not mounted: the server's presence is unknown
	}
	dir := fmt.Sprintf("/sys/kernel/debug/sched/fair_server/cpu%d", cpu)
	rt, err1 := measure.ReadIntFile(dir + "/runtime")
	per, err2 := measure.ReadIntFile(dir + "/period")
	if err1 != nil || err2 != nil {
		return append(ms, schedMetric("fair_server.present", "count", results.Info, 0, false))
	}
	return append(ms,
		schedMetric("fair_server.present", "count", results.Info, 1, false),
		schedMetric("fair_server.runtime", "ns", results.Info, float64(rt), false),
		schedMetric("fair_server.period", "ns", results.Info, float64(per), false),
	)
}
