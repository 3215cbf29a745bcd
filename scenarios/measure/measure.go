// Package measure holds the low-level tools every scenario uses to measure
// from Go without the runtime distorting the result: locked and pinned OS
// threads, real-time policies, absolute clock_nanosleep, mlockall, GC
// detection and HdrHistogram summaries.
package measure

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
)

// Prepare turns the garbage collector off and locks memory. Call it once,
// before the measurement's window.
//
// Memory is locked as it is touched (MCL_ONFAULT): populating every mapping
// of the Go runtime at once costs seconds under TCG for tens of MB it never
// uses. Histograms from NewHist are touched when made, and the scenarios'
// buffers during their warmups, so nothing faults inside a window. Kernels
// before 4.4 reject the flag and get the plain call.
//
// It also keeps Ps for threads blocked in raw system calls (ReserveProcs).
func Prepare() error {
	debug.SetGCPercent(-1)
	ReserveProcs(2)
	err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT)
	if err == unix.EINVAL {
		err = unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
	}
	if err != nil {
		return fmt.Errorf("mlockall: %w", err)
	}
	return nil
}

var gcSample = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}

// GCCycles returns the number of completed GC cycles; a change across a
// measurement window invalidates it.
func GCCycles() uint64 {
	s := make([]metrics.Sample, 1)
	s[0].Name = gcSample[0].Name
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// LockThread locks the calling goroutine to its OS thread and, when cpu >= 0,
// pins the thread to that CPU. The caller must not unlock it: the thread
// carries the policy set on it and is discarded when the goroutine exits.
func LockThread(cpu int) error {
	runtime.LockOSThread()
	measuring.Store(unix.Gettid(), true)
	if cpu < 0 {
		return nil
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin thread to cpu %d: %w", cpu, err)
	}
	return nil
}

// SetFIFO makes the calling thread SCHED_FIFO at priority prio.
func SetFIFO(prio int) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("SCHED_FIFO priority %d: %w", prio, err)
	}
	return nil
}

// SetOther makes the calling thread SCHED_OTHER at the given nice value and
// sets its timer slack to 1 ns.
func SetOther(nice int) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: int32(nice)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("SCHED_OTHER nice %d: %w", nice, err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	return nil
}

// Now returns CLOCK_MONOTONIC in nanoseconds, without going through the Go
// runtime's time package. It is nosplit: a window's loops may call it.
//
//go:nosplit
func Now() int64 {
	return nanotime()
}

// SleepUntil sleeps until the CLOCK_MONOTONIC deadline (ns) with an absolute
// clock_nanosleep, retrying on EINTR.
//
// The call is raw (see raw.go): the sleeping thread keeps its P and the
// runtime sees nothing to do.
func SleepUntil(deadline int64) {
	sleepUntilNS(deadline)
}

// Histogram bounds: 1 ns to 10 s at 3 significant digits.
const (
	HistMin    = 1
	HistMax    = 10_000_000_000
	HistDigits = 3
)

// NewHist returns a histogram for nanosecond latencies, its counts already
// touched so that recording never page-faults.
func NewHist() *hdrhistogram.Histogram {
	return Prefault(hdrhistogram.New(HistMin, HistMax, HistDigits))
}

// Record adds v to h, clamping it to the histogram's range so no sample is
// silently lost.
func Record(h *hdrhistogram.Histogram, v int64) {
	if v < HistMin {
		v = HistMin
	}
	if v > HistMax {
		v = HistMax
	}
	h.RecordValue(v)
}

// Summarize turns a latency histogram into the standard per-boot metrics
// PREFIX.min, .p50, .p99, .p99.9, .max and .mean (unit ns, lower is better,
// timing-dependent).
func Summarize(prefix string, h *hdrhistogram.Histogram) []results.Metric {
	n := h.TotalCount()
	m := func(name string, v float64, q float64) results.Metric {
		return results.Metric{Name: prefix + "." + name, Unit: "ns", Better: results.LowerIsBetter,
			Value: v, Samples: n, Quantile: q, Timing: true}
	}
	return []results.Metric{
		m("min", float64(h.Min()), 0),
		m("p50", float64(h.ValueAtQuantile(50)), 50),
		m("p99", float64(h.ValueAtQuantile(99)), 99),
		m("p99.9", float64(h.ValueAtQuantile(99.9)), 99.9),
		m("max", float64(h.Max()), 100),
		m("mean", h.Mean(), 0),
	}
}

// Encode returns h in the standard compressed base64 form.
func Encode(name, unit string, corrected bool, h *hdrhistogram.Histogram) (results.Histogram, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return results.Histogram{}, fmt.Errorf("histogram %s: %w", name, err)
	}
	return results.Histogram{Name: name, Unit: unit, Corrected: corrected, Encoded: string(b)}, nil
}
