package measure

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kvet/kvet/results"
)

// Self-noise: what the scenario process does during a window besides its
// measuring threads (the runtime's sysmon, idle Ms woken to take a P, the
// main goroutine). Those threads compete with the measured ones for the
// vCPUs; every wakeup of theirs is kvet measuring itself. A window records
// their context switches and CPU time from /proc/self/task, and is invalid
// when they exceed the bounds below. A thread lowered to SCHED_IDLE for the
// window (Quiet) counts its voluntary switches only: each of its wakeups
// ends in one, while an involuntary switch of an idle-class thread is its
// preemption by a thread that wanted the CPU and got it at once (on two
// vCPUs, sysmon preempted by the measuring thread waking on its CPU: 300
// of pipe-cross's 1100 switches a second in a TCG guest).

// measuring holds the thread ids of LockThread's callers: the measuring
// threads and their load (hogs), the workload of the window. Every other
// thread of the process is noise.
var measuring sync.Map

// The bound of a valid window: at most NoiseMaxSwitches context switches a
// second of the process's other threads. With raw system calls, sysmon's
// 10 ms idle period and the cooperative preemption it asks of a
// long-running measuring thread every 10 ms come to a few hundred switches
// a second (120-340 seen in TCG guests); before, a window with the
// runtime in the path saw 3000-6000.
// Their CPU time is recorded but bounds nothing: under TCG on a loaded host
// a guest thread's CPU time is inflated by the emulator (no steal time),
// while the number of switches stays a count.
const NoiseMaxSwitches = 1000 // per second

// NoiseMinWindow is the shortest window the bound judges: the runtime's
// sysmon polls every 20 us when it starts and backs off over its first
// milliseconds, so a window of a few tens of milliseconds right after the
// process starts measures that start, not the steady state (1500 switches
// a second were seen over a 50 ms window on a loaded host).
const NoiseMinWindow = 250_000_000 // ns

// NoiseStart reads the process's other threads' counters at the start of
// a window.
type NoiseStart struct {
	at    int64
	tasks map[int]taskCounters
}

type taskCounters struct {
	switches int64 // voluntary + involuntary (voluntary only while idle-class under Quiet)
	cpu      int64 // ns on a CPU (schedstat)
}

// Noise is the process's self-noise over one window.
type Noise struct {
	Window   int64 // ns
	Switches int64 // context switches of non-measuring threads
	CPU      int64 // ns of CPU time they used
	Threads  int   // non-measuring threads seen
	// Busiest describes the non-measuring threads that used the most CPU
	// (thread id, switches, CPU time), for the log.
	Busiest string
}

// StartNoise reads the counters of every thread of the process that is not
// a measuring thread. Call it just before the window; it allocates.
func StartNoise() NoiseStart {
	return NoiseStart{at: Now(), tasks: readTasks()}
}

// End returns the self-noise since s. A thread that appeared during the
// window counts from zero, one that left is not counted.
func (s NoiseStart) End() Noise {
	now := Now()
	n := Noise{Window: now - s.at}
	type busy struct {
		tid           int
		switches, cpu int64
	}
	var all []busy
	for tid, c := range readTasks() {
		n.Threads++
		b := s.tasks[tid]
		n.Switches += c.switches - b.switches
		n.CPU += c.cpu - b.cpu
		all = append(all, busy{tid, c.switches - b.switches, c.cpu - b.cpu})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].cpu > all[j].cpu })
	var parts []string
	for _, b := range all[:min(3, len(all))] {
		parts = append(parts, fmt.Sprintf("thread %d: %d switches, %.1f ms", b.tid, b.switches, float64(b.cpu)/1e6))
	}
	n.Busiest = strings.Join(parts, "; ")
	return n
}

// String sums the window's self-noise up for a log line.
func (n Noise) String() string {
	return fmt.Sprintf("self-noise %.0f switches/s, %.1f%% of a CPU over %d threads (%s)", n.PerSecond(), 100*n.CPUShare(), n.Threads, n.Busiest)
}

// PerSecond is the switch rate over the window.
func (n Noise) PerSecond() float64 {
	if n.Window <= 0 {
		return 0
	}
	return float64(n.Switches) / (float64(n.Window) / 1e9)
}

// CPUShare is the CPU time used as a fraction of one CPU over the window.
func (n Noise) CPUShare() float64 {
	if n.Window <= 0 {
		return 0
	}
	return float64(n.CPU) / float64(n.Window)
}

// Invalid says why the window is invalid, or "".
func (n Noise) Invalid() string {
	if r := n.PerSecond(); r > NoiseMaxSwitches && n.Window >= NoiseMinWindow {
		return fmt.Sprintf("kvet's own non-measuring threads switched %.0f times a second during the window (bound %d): %s", r, NoiseMaxSwitches, n)
	}
	return ""
}

// Metrics are PREFIX.selfnoise.switches (per second) and
// PREFIX.selfnoise.cpu (percent of one CPU): information, not verdicts.
func (n Noise) Metrics(prefix string) []results.Metric {
	if prefix != "" {
		prefix += "."
	}
	return []results.Metric{
		{Name: prefix + "selfnoise.switches", Unit: "switches/s", Better: results.Info, Value: n.PerSecond()},
		{Name: prefix + "selfnoise.cpu", Unit: "%", Better: results.Info, Value: 100 * n.CPUShare()},
	}
}

// readTasks reads the non-measuring threads' counters; a thread that ends
// while being read is skipped.
func readTasks() map[int]taskCounters {
	out := map[int]taskCounters{}
	for _, tid := range otherThreads() {
		if c, ok := readTask(tid); ok {
			out[tid] = c
		}
	}
	return out
}

func readTask(tid int) (taskCounters, bool) {
	dir := "/proc/self/task/" + strconv.Itoa(tid)
	var c taskCounters
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return c, false
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "nonvoluntary_ctxt_switches":
			if _, idle := quieted.Load(tid); idle {
				continue
			}
			fallthrough
		case "voluntary_ctxt_switches":
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err == nil {
				c.switches += n
			}
		}
	}
	// schedstat: time on a CPU (ns), time waiting to run (ns), timeslices.
	if ss, err := os.ReadFile(dir + "/schedstat"); err == nil {
		if f := bytes.Fields(ss); len(f) > 0 {
			c.cpu, _ = strconv.ParseInt(string(f[0]), 10, 64)
		}
	}
	return c, true
}
