package results

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A traced boot's traces are ftrace's text format (the trace file of
// tracefs): header lines starting with #, then one event a line,
//
//	          <idle>-0       [001] d..2.  1234.567890: sched_switch: prev_comm=swapper/1 prev_pid=0 ... ==> next_comm=init next_pid=201 ...
//
// the running task's name and pid, optionally its tgid in parentheses, the
// CPU, optionally the irq/preempt flags (4 characters before Linux 5.17, 5
// since), the timestamp in seconds, the event and its arguments.

// FtraceEvent is one event line of a trace.
type FtraceEvent struct {
	// Task and PID are the task that was running on the CPU (the waker for
	// a wakeup, the task switched out for a switch); TGID is -1 when the
	// trace did not record it.
	Task string
	PID  int
	TGID int
	CPU  int
	// Flags are the irqs-off, need-resched, hardirq/softirq, preempt-depth
	// and migrate-disable columns ("d..2."), "" when not recorded.
	Flags string
	// Time is the timestamp on the trace clock.
	Time time.Duration
	// Name is the event ("sched_switch"), Args the rest of the line and
	// Fields its key=value arguments (a value may hold spaces: a comm).
	Name   string
	Args   string
	Fields map[string]string
}

// Int is an integer field, false when absent or not a number.
func (e *FtraceEvent) Int(key string) (int, bool) {
	v, ok := e.Fields[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// Ftrace is a parsed trace.
type Ftrace struct {
	// Events in time order.
	Events []FtraceEvent
	// CPUs is the header's #P:N, 0 without it.
	CPUs int
	// Lost counts the events the buffer dropped ("CPU:1 [LOST 12 EVENTS]").
	Lost int
	// Unparsed counts the lines that are neither comments nor events.
	Unparsed int
}

var (
	ftraceLine = regexp.MustCompile(`^\s*(.+?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S{4,5})\s+)?(\d+)\.(\d+):\s+([^:\s]+):\s?(.*)$`)
	lostLine   = regexp.MustCompile(`^CPU:\s*\d+\s+\[LOST (\d+) EVENTS\]`)
	cpusHeader = regexp.MustCompile(`#P:(\d+)`)
)

// ParseFtrace reads a trace in ftrace's text format.
func ParseFtrace(r io.Reader) (*Ftrace, error) {
	t := &Ftrace{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, "#"):
			if m := cpusHeader.FindStringSubmatch(trimmed); m != nil && t.CPUs == 0 {
				t.CPUs, _ = strconv.Atoi(m[1])
			}
			continue
		}
		if m := lostLine.FindStringSubmatch(trimmed); m != nil {
			n, _ := strconv.Atoi(m[1])
			t.Lost += n
			continue
		}
		e, ok := parseFtraceLine(line)
		if !ok {
			t.Unparsed++
			continue
		}
		t.Events = append(t.Events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ftrace: %w", err)
	}
	// The trace file merges the CPUs' buffers in time order already; a
	// stable sort keeps that and orders a text put together otherwise.
	sort.SliceStable(t.Events, func(i, j int) bool { return t.Events[i].Time < t.Events[j].Time })
	return t, nil
}

func parseFtraceLine(line string) (FtraceEvent, bool) {
	m := ftraceLine.FindStringSubmatch(line)
	if m == nil {
		return FtraceEvent{}, false
	}
	e := FtraceEvent{Task: strings.TrimSpace(m[1]), TGID: -1, Flags: m[5], Name: m[8], Args: m[9]}
	var err error
	if e.PID, err = strconv.Atoi(m[2]); err != nil {
		return FtraceEvent{}, false
	}
	if tgid, err := strconv.Atoi(m[3]); err == nil {
		e.TGID = tgid
	}
	if e.CPU, err = strconv.Atoi(m[4]); err != nil {
		return FtraceEvent{}, false
	}
	secs, err := strconv.ParseInt(m[6], 10, 64)
	if err != nil {
		return FtraceEvent{}, false
	}
	frac := m[7]
	if len(frac) > 9 {
		frac = frac[:9]
	}
	ns, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil {
		return FtraceEvent{}, false
	}
	e.Time = time.Duration(secs)*time.Second + time.Duration(ns)
	e.Fields = ftraceFields(e.Args)
	return e, true
}

// ftraceFields reads key=value arguments; a word without = continues the
// value before it ("prev_comm=Web Content"), and sched_switch's ==> is
// not an argument.
func ftraceFields(args string) map[string]string {
	fields := map[string]string{}
	last := ""
	for _, w := range strings.Fields(args) {
		if w == "==>" {
			last = ""
			continue
		}
		if k, v, ok := strings.Cut(w, "="); ok && k != "" {
			fields[k] = v
			last = k
			continue
		}
		if last != "" {
			fields[last] += " " + w
		}
	}
	return fields
}

// OfPID matches the events a task takes part in: those it ran (the task
// columns) and those that name it (woken, switched in or out, migrated).
func OfPID(pid int) func(*FtraceEvent) bool {
	return func(e *FtraceEvent) bool {
		if e.PID == pid {
			return true
		}
		for _, k := range []string{"pid", "prev_pid", "next_pid"} {
			if n, ok := e.Int(k); ok && n == pid {
				return true
			}
		}
		return false
	}
}

// OfTask matches the events of every task called comm, as OfPID does.
func OfTask(comm string) func(*FtraceEvent) bool {
	return func(e *FtraceEvent) bool {
		if e.Task == comm {
			return true
		}
		for _, k := range []string{"comm", "prev_comm", "next_comm"} {
			if e.Fields[k] == comm {
				return true
			}
		}
		return false
	}
}

// FtraceGap is the time between two consecutive events of a task.
type FtraceGap struct {
	From, To FtraceEvent
	Length   time.Duration
}

// LongestGap is the longest time between consecutive events that match:
// for a task, how long it went without running, waking or being woken (a
// Nagle exchange held up by a delayed ACK shows as a gap of ~40 ms). It is
// false when fewer than two events match.
func (t *Ftrace) LongestGap(match func(*FtraceEvent) bool) (FtraceGap, bool) {
	var g FtraceGap
	var prev *FtraceEvent
	found := false
	for i := range t.Events {
		e := &t.Events[i]
		if !match(e) {
			continue
		}
		if prev != nil && (!found || e.Time-prev.Time > g.Length) {
			g, found = FtraceGap{From: *prev, To: *e, Length: e.Time - prev.Time}, true
		}
		prev = e
	}
	return g, found
}
