package guest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/guest/tracefs"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/scenarios"
)

// The events a scenario's trace records: the scheduler's always (Perfetto
// draws the threads' states from sched_switch and their wakers from
// sched_waking), the TCP stack's for a TCP scenario, with the timers that
// fire around it (the delayed ACK is a timer_list, tcp_delack_timer; pacing
// and the tick are hrtimers). An event the kernel lacks is named in the
// trace, not an error.
var (
	SchedEvents = []string{"sched/sched_switch", "sched/sched_waking", "sched/sched_wakeup", "sched/sched_wakeup_new", "sched/sched_migrate_task"}
	TCPEvents   = []string{"tcp/tcp_retransmit_skb", "tcp/tcp_probe", "timer/timer_expire_entry", "timer/hrtimer_expire_entry"}
)

// TraceEvents are the events a trace of the scenario called name records.
func TraceEvents(name string) []string {
	events := slices.Clone(SchedEvents)
	if s, err := scenarios.Lookup(name); err == nil && s.TCP {
		events = append(events, TCPEvents...)
	}
	return events
}

// Tracer traces one scenario at a time.
type Tracer interface {
	// Start readies a trace of events with bufferKB of buffer per CPU and
	// starts recording.
	Start(scenario string, events []string, bufferKB int) error
	// Stop stops recording and returns the trace since Start; it never
	// fails, a trace that could not be taken says why in its Error.
	Stop() wire.Trace
}

// FtraceTracer traces with the kernel's event tracer through tracefs.
type FtraceTracer struct {
	// Root is where the guest's filesystem is ("/"); Mount mounts tracefs
	// or debugfs when they are not (unix.Mount in the guest).
	Root  string
	Mount tracefs.MountFunc
	// MaxText caps a trace's text (default wire.MaxTraceText).
	MaxText int64

	fs       *tracefs.FS
	scenario string
	info     wire.TraceInfo
	err      error // of Start
}

// Mount is tracefs.MountFunc in the guest.
func Mount(source, dir, fstype string) error {
	return unix.Mount(source, dir, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// traceClock orders the events of all CPUs on one clock.
const traceClock = "mono"

func (t *FtraceTracer) Start(scenario string, events []string, bufferKB int) error {
	t.scenario, t.info, t.err = scenario, wire.TraceInfo{Scenario: scenario, BufferKB: bufferKB}, nil
	if t.fs == nil {
		fs, err := tracefs.Find(t.Root, t.Mount)
		if err != nil {
			t.err = err
			return err
		}
		t.fs = fs
	}
	setup, err := t.fs.Prepare(tracefs.Config{BufferKB: bufferKB, Events: events, Clock: traceClock})
	t.info.Enabled, t.info.Missing = setup.Enabled, setup.Missing
	if err == nil && len(setup.Enabled) == 0 {
		err = errors.New("tracefs: none of the events exists in this kernel")
	}
	if err == nil {
		err = t.fs.On()
	}
	if err != nil {
		t.err = err
		t.fs.Reset()
		return err
	}
	t.fs.Mark(scenarioMark(scenario, 1)) // a landmark only
	return nil
}

// scenarioMark is a trace_marker line in atrace's counter form, which
// Perfetto draws as a track of the agent's process: 1 while the scenario
// runs, 0 after. A counter belongs to the process, so the marks need not
// come from one thread.
func scenarioMark(scenario string, v int) string {
	return fmt.Sprintf("C|%d|kvet scenario %s|%d", os.Getpid(), scenario, v)
}

func (t *FtraceTracer) Stop() wire.Trace {
	tr := wire.Trace{TraceInfo: t.info}
	if t.err != nil {
		tr.Error = t.err.Error()
		return tr
	}
	t.fs.Mark(scenarioMark(t.scenario, 0))
	if err := t.fs.Off(); err != nil {
		tr.Error = err.Error()
		t.fs.Reset()
		return tr
	}
	max := t.MaxText
	if max <= 0 {
		max = wire.MaxTraceText
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	r, err := t.fs.ReadTrace(zw, max)
	tr.Bytes, tr.Events, tr.Truncated = r.Bytes, r.Events, r.Truncated
	if r.Truncated {
		// A comment line: the text stays a trace that its readers open.
		fmt.Fprintf(zw, "# kvet: trace cut at %d bytes (the cap); the events after it are lost\n", r.Bytes)
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tr.Error = err.Error()
	}
	if r.Bytes > 0 {
		tr.Data = buf.Bytes()
	}
	if rerr := t.fs.Reset(); rerr != nil && tr.Error == "" {
		tr.Error = rerr.Error()
	}
	return tr
}
