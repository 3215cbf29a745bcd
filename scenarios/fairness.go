package scenarios

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// Tolerances of the fairness control: the largest relative deviation of the
// measured CPU share ratio from the weight ratio (nice 0 vs nice 5:
// 1024/335 = 3.06) that a control run accepts.
//
// FairnessTolerance holds on hardware, under KVM and on a host: measured on a
// loaded 2-CPU host (kernel 6.18) the deviation was 1-4% over 0.6-1 s windows.
//
// FairnessToleranceTCG holds under TCG. There the measured ratio sits below
// the weights and scatters widely: 17 windows of 1-3 s on a loaded 2-core
// host gave 1.46 .. 2.90 (deviation up to 0.52) on 6.1 (CFS) and 6.12 (EEVDF)
// alike, so it is the emulator, not the scheduler (the guest's thread CPU
// time even exceeds CLOCK_MONOTONIC by up to 20% there). Under TCG the
// control can only say that nice takes effect in the right direction and
// roughly the right size; compare kernels with each other, not with 3.06.
const (
	FairnessTolerance    = 0.10
	FairnessToleranceTCG = 0.55
)

// niceWeight is the kernel's sched_prio_to_weight table, nice -20..19.
var niceWeight = [40]float64{
	88761, 71755, 56483, 46273, 36291,
	29154, 23254, 18705, 14949, 11916,
	9548, 7620, 6100, 4904, 3906,
	3121, 2501, 1991, 1586, 1277,
	1024, 820, 655, 526, 423,
	335, 272, 215, 172, 137,
	110, 87, 70, 56, 45,
	36, 29, 23, 18, 15,
}

// NiceWeightRatio is the CPU share ratio the fair class promises two
// always-runnable threads at nice a and nice b on one CPU.
func NiceWeightRatio(a, b int) float64 {
	return niceWeight[a+20] / niceWeight[b+20]
}

// FairnessParams are the parameters of the fairness scenario.
type FairnessParams struct {
	CPU           int `yaml:"cpu" json:"cpu" doc:"CPU every thread of the scenario is pinned to (quick 0, full 0)"`
	Nice          int `yaml:"nice" json:"nice" doc:"nice value of the second hog in the nice variant; the first is at 0 (quick 5, full 5)"`
	NiceMs        int `yaml:"nice_ms" json:"nice_ms" doc:"window of the nice 0 vs nice N variant in ms, 0 skips it (quick 1000, full 10000)"`
	BatchMs       int `yaml:"batch_ms" json:"batch_ms" doc:"window of the SCHED_OTHER vs SCHED_BATCH variant in ms, 0 skips it (quick 500, full 10000)"`
	InteractiveMs int `yaml:"interactive_ms" json:"interactive_ms" doc:"window of the interactive-among-hogs variant in ms, 0 skips it (quick 1000, full 20000)"`
	Hogs          int `yaml:"hogs" json:"hogs" doc:"nice 0 hogs around the interactive task (quick 2, full 2)"`
	SleepUs       int `yaml:"sleep_us" json:"sleep_us" doc:"how long the interactive task sleeps between bursts, in us (quick 10000, full 10000)"`
	RunUs         int `yaml:"run_us" json:"run_us" doc:"CPU time of each burst of the interactive task, in us (quick 1000, full 1000)"`
}

// Validate rejects values the scenario cannot run with.
func (p *FairnessParams) Validate() error {
	win := func(name string, v int) error {
		if v != 0 && (v < 50 || v > 3_600_000) {
			return fmt.Errorf("%s %d: want 0 (skip) or 50..3600000", name, v)
		}
		return nil
	}
	switch {
	case p.CPU < 0 || p.CPU > 4095:
		return fmt.Errorf("cpu %d: want 0..4095", p.CPU)
	case p.Nice < -20 || p.Nice > 19:
		return fmt.Errorf("nice %d: want -20..19", p.Nice)
	case p.Hogs < 1 || p.Hogs > 64:
		return fmt.Errorf("hogs %d: want 1..64", p.Hogs)
	case p.SleepUs < 1 || p.SleepUs > 10_000_000:
		return fmt.Errorf("sleep_us %d: want 1..10000000", p.SleepUs)
	case p.RunUs < 0 || p.RunUs > 10_000_000:
		return fmt.Errorf("run_us %d: want 0..10000000", p.RunUs)
	case p.NiceMs == 0 && p.BatchMs == 0 && p.InteractiveMs == 0:
		return fmt.Errorf("nice_ms, batch_ms, interactive_ms: all 0, nothing to run")
	}
	for _, w := range []struct {
		name string
		v    int
	}{{"nice_ms", p.NiceMs}, {"batch_ms", p.BatchMs}, {"interactive_ms", p.InteractiveMs}} {
		if err := win(w.name, w.v); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	register(def[FairnessParams]{
		Name:     "fairness",
		Measures: "CPU hogs on one CPU at nice 0 vs nice N and SCHED_OTHER vs SCHED_BATCH: share ratio vs the weight ratio; wakeup latency of an interactive task among hogs",
		Catches:  "fair-class weight, placement and wakeup-preemption changes (CFS -> EEVDF, lag handling)",
		Defaults: func(profile string) *FairnessParams {
			if profile == Full {
				return &FairnessParams{CPU: 0, Nice: 5, NiceMs: 10_000, BatchMs: 10_000, InteractiveMs: 20_000, Hogs: 2, SleepUs: 10_000, RunUs: 1000}
			}
			return &FairnessParams{CPU: 0, Nice: 5, NiceMs: 1000, BatchMs: 500, InteractiveMs: 1000, Hogs: 2, SleepUs: 10_000, RunUs: 1000}
		},
		Run: runFairness,
	})
}

// fairThread is one thread of a fairness variant.
type fairThread struct {
	policy int // unix.SCHED_NORMAL or unix.SCHED_BATCH
	nice   int
	// interactive threads sleep and run in bursts; the others spin.
	interactive bool
	cpu         int64 // CPU time used in the window, ns
	late        *hdrhistogram.Histogram
	err         error
}

func runFairness(ctx context.Context, env Env, p *FairnessParams, r *results.Scenario) (*results.Scenario, error) {
	if p.CPU >= env.CPUs {
		return nil, fmt.Errorf("fairness: cpu %d: the guest has %d CPUs", p.CPU, env.CPUs)
	}
	w, err := measure.Begin(p.Hogs + 1)
	if err != nil {
		return nil, fmt.Errorf("fairness: %w", err)
	}
	defer w.End()
	t0 := measure.Now()
	ms := func(v int) int64 { return int64(v) * int64(time.Millisecond) }

	pair := func(name string, a, b *fairThread, dur int64) error {
		if dur == 0 || ctx.Err() != nil {
			return nil
		}
		nz, err := fairRun(p.CPU, dur, 0, 0, []*fairThread{a, b})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		schedNoise(r, name, nz)
		want := NiceWeightRatio(a.nice, b.nice)
		ratio := math.Inf(1)
		if b.cpu > 0 {
			ratio = float64(a.cpu) / float64(b.cpu)
		} else {
			schedInvalidate(r, "%s: the second hog got no CPU time", name)
			ratio = 0
		}
		r.Metrics = append(r.Metrics,
			// CPU time is clock-derived and distorted under TCG (see
			// FairnessToleranceTCG): never compare it across accelerators.
			schedMetric(name+".ratio", "ratio", results.Info, ratio, true),
			schedMetric(name+".expected", "ratio", results.Info, want, false),
			schedMetric(name+".deviation", "ratio", results.LowerIsBetter, math.Abs(ratio/want-1), true),
			schedMetric(name+".busy", "ratio", results.Info, float64(a.cpu+b.cpu)/float64(dur), true),
		)
		schedLog(env, "fairness %s: cpu %v vs %v, ratio %.3f (weights %.3f)", name,
			time.Duration(a.cpu), time.Duration(b.cpu), ratio, want)
		return nil
	}
	if err := pair("nice",
		&fairThread{policy: unix.SCHED_NORMAL, nice: 0},
		&fairThread{policy: unix.SCHED_NORMAL, nice: p.Nice}, ms(p.NiceMs)); err != nil {
		return nil, fmt.Errorf("fairness: %w", err)
	}
	if err := pair("batch",
		&fairThread{policy: unix.SCHED_NORMAL},
		&fairThread{policy: unix.SCHED_BATCH}, ms(p.BatchMs)); err != nil {
		return nil, fmt.Errorf("fairness: %w", err)
	}
	if p.InteractiveMs > 0 && ctx.Err() == nil {
		it := &fairThread{policy: unix.SCHED_NORMAL, interactive: true, late: measure.Prefault(measure.NewHist())}
		ts := []*fairThread{it}
		for range p.Hogs {
			ts = append(ts, &fairThread{policy: unix.SCHED_NORMAL})
		}
		dur := ms(p.InteractiveMs)
		nz, err := fairRun(p.CPU, dur, int64(p.SleepUs)*1000, int64(p.RunUs)*1000, ts)
		if err != nil {
			return nil, fmt.Errorf("fairness: interactive: %w", err)
		}
		schedNoise(r, "interactive", nz)
		if it.late.TotalCount() == 0 {
			schedInvalidate(r, "interactive: the task never woke")
		}
		if err := schedHist(r, "interactive", it.late); err != nil {
			return nil, err
		}
		r.Metrics = append(r.Metrics,
			schedMetric("interactive.cpu_share", "ratio", results.Info, float64(it.cpu)/float64(dur), true))
	}
	if ctx.Err() != nil {
		schedInvalidate(r, "cancelled: %v", ctx.Err())
	}
	schedCheckGC(r, w)
	r.Duration = time.Duration(measure.Now() - t0)
	return r, nil
}

// fairRun runs ts together on cpu for dur ns: hogs spin, an interactive
// thread sleeps sleep ns and then uses run ns of CPU, recording how late
// each wakeup was. Each thread's CPU time in the window lands in its cpu.
func fairRun(cpu int, dur, sleep, run int64, ts []*fairThread) (measure.Noise, error) {
	var (
		gate   measure.Gate
		ready  measure.Latch
		failed atomic.Bool
		wg     sync.WaitGroup
		start  int64
	)
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if t.err = fairSetup(cpu, t.policy, t.nice); t.err != nil {
				failed.Store(true)
			}
			ready.Arrive()
			gate.Wait()
			if failed.Load() {
				return
			}
			s := atomic.LoadInt64(&start)
			end := s + dur
			c0 := measure.ThreadCPUTime()
			if !t.interactive {
				measure.SpinUntil(end)
			} else {
				for next := s + sleep; ; {
					measure.SleepUntil(next)
					now := measure.Now()
					measure.Record(t.late, now-next)
					if now >= end {
						break
					}
					measure.SpinCPU(run)
					next = measure.Now() + sleep
				}
			}
			t.cpu = measure.ThreadCPUTime() - c0
		}()
	}
	ready.WaitFor(uint32(len(ts)))
	atomic.StoreInt64(&start, measure.Now())
	gate.Open()
	noise := measure.StartNoise()
	wg.Wait()
	nz := noise.End()
	for _, t := range ts {
		if t.err != nil {
			return nz, t.err
		}
	}
	return nz, nil
}

// fairSetup locks the calling goroutine to a thread pinned to cpu with the
// given fair-class policy and nice value.
func fairSetup(cpu, policy, nice int) error {
	if err := measure.LockThread(cpu); err != nil {
		return err
	}
	if policy == unix.SCHED_NORMAL {
		return measure.SetOther(nice)
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: uint32(policy), Nice: int32(nice)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("policy %d nice %d: %w", policy, nice, err)
	}
	return nil
}
