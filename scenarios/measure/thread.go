package measure

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// Switches are context switches of a thread or process.
type Switches struct {
	Voluntary   int64 // the thread blocked
	Involuntary int64 // the thread was preempted
}

// Total is voluntary plus involuntary switches.
func (s Switches) Total() int64 { return s.Voluntary + s.Involuntary }

// Sub returns s - o.
func (s Switches) Sub(o Switches) Switches {
	return Switches{s.Voluntary - o.Voluntary, s.Involuntary - o.Involuntary}
}

// Add returns s + o.
func (s Switches) Add(o Switches) Switches {
	return Switches{s.Voluntary + o.Voluntary, s.Involuntary + o.Involuntary}
}

// ThreadSwitches returns the calling thread's context switches
// (getrusage RUSAGE_THREAD). The goroutine must be locked to its thread.
func ThreadSwitches() Switches {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return Switches{}
	}
	return Switches{Voluntary: ru.Nvcsw, Involuntary: ru.Nivcsw}
}

// ThreadCPUTime returns the CPU time the calling thread has consumed, in ns
// (CLOCK_THREAD_CPUTIME_ID). The goroutine must be locked to its thread.
func ThreadCPUTime() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
}

// SpinUntil busy-loops until CLOCK_MONOTONIC reaches deadline (ns) and
// returns the number of loop iterations.
func SpinUntil(deadline int64) int64 {
	var n int64
	for Now() < deadline {
		n++
	}
	return n
}

// SpinCPU busy-loops until the calling thread has consumed ns of CPU time:
// "run for 1 ms" stays the same amount of work however often the thread is
// preempted meanwhile.
func SpinCPU(ns int64) {
	end := ThreadCPUTime() + ns
	for ThreadCPUTime() < end {
	}
}

// Work performs n rounds of integer mixing, a fixed amount of computation
// standing for a request; the result keeps the compiler from removing it.
// It is nosplit: a window's loops may call it.
//
//go:nosplit
func Work(n int) uint64 {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// Window holds the process-wide conditions of a measurement: GC off, memory
// locked, GOMAXPROCS above the locked threads. End restores what Begin
// changed, so a test process is left as it was.
type Window struct {
	gcPercent int
	procs     int
	gc0       uint64
	locked    bool
}

// Begin collects garbage once, turns the GC off, locks memory and raises
// GOMAXPROCS to threads+2 so that a locked thread returning from a blocking
// system call always finds a P. Call it before allocating the measurement's
// buffers; GCs reports collections after this point.
func Begin(threads int) (*Window, error) {
	runtime.GC()
	w := &Window{gcPercent: debug.SetGCPercent(-1), procs: runtime.GOMAXPROCS(0)}
	if threads+2 > w.procs {
		runtime.GOMAXPROCS(threads + 2)
	}
	// MCL_ONFAULT locks pages as they are touched instead of populating
	// every mapping at once: the Go runtime maps tens of MB it never uses,
	// and populating them costs seconds under TCG. The measurement's own
	// buffers are touched before the window (Prefault), so nothing faults
	// inside it. Kernels before 4.4 reject the flag.
	err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT)
	if err == unix.EINVAL {
		err = unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
	}
	if err != nil {
		w.End()
		return nil, fmt.Errorf("mlockall: %w", err)
	}
	w.locked = true
	w.gc0 = GCCycles()
	return w, nil
}

// GCs returns the number of GC cycles completed since Begin.
func (w *Window) GCs() uint64 { return GCCycles() - w.gc0 }

// End restores the GC percentage and GOMAXPROCS and unlocks memory.
func (w *Window) End() {
	if w.locked {
		unix.Munlockall()
		w.locked = false
	}
	debug.SetGCPercent(w.gcPercent)
	runtime.GOMAXPROCS(w.procs)
}

// Prefault writes every count of h so its pages are resident (and locked)
// before the measurement window, and returns h.
func Prefault(h *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	h.Reset()
	return h
}

// ReadIntFile reads a file holding one integer, such as a sysctl under
// /proc/sys.
func ReadIntFile(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
