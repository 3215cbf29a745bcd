package results

import (
	"os"
	"strings"
	"testing"
	"time"
)

func readNagleTrace(t *testing.T) *Ftrace {
	t.Helper()
	f, err := os.Open("testdata/nagle.trace")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseFtrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestParseFtraceNagle reads a trace of a nagle exchange as the guest's
// tracefs writes it: header, scheduler, TCP and timer events, a note of
// lost events.
func TestParseFtraceNagle(t *testing.T) {
	tr := readNagleTrace(t)
	if len(tr.Events) != 43 || tr.CPUs != 2 || tr.Lost != 2 || tr.Unparsed != 0 {
		t.Fatalf("parsed %d events, %d CPUs, %d lost, %d unparsed; want 43, 2, 2, 0", len(tr.Events), tr.CPUs, tr.Lost, tr.Unparsed)
	}
	first := tr.Events[0]
	if first.Task != "init" || first.PID != 1 || first.CPU != 0 || first.Flags != "....." || first.Time != 105*time.Second+10*time.Microsecond ||
		first.Name != "tracing_mark_write" || first.Args != "C|1|kvet scenario nagle|1" {
		t.Errorf("first event = %+v", first)
	}
	counts := map[string]int{}
	for _, e := range tr.Events {
		counts[e.Name]++
		if e.TGID != -1 {
			t.Errorf("%s at %v: tgid %d, want -1 (not recorded)", e.Name, e.Time, e.TGID)
		}
	}
	want := map[string]int{"sched_switch": 20, "sched_waking": 3, "sched_wakeup": 7, "sched_wakeup_new": 3, "sched_migrate_task": 1, "tcp_probe": 3, "tcp_retransmit_skb": 1,
		"hrtimer_expire_entry": 2, "timer_expire_entry": 1, "tracing_mark_write": 2}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s events, want %d", counts[k], k, n)
		}
	}
	var sw, probe, timer *FtraceEvent
	for i := range tr.Events {
		e := &tr.Events[i]
		switch {
		case sw == nil && e.Name == "sched_switch" && e.PID == 212:
			sw = e
		case probe == nil && e.Name == "tcp_probe":
			probe = e
		case e.Name == "timer_expire_entry":
			timer = e
		}
	}
	if sw.Fields["prev_comm"] != "init" || sw.Fields["prev_state"] != "S" || sw.Fields["next_comm"] != "swapper/0" {
		t.Errorf("sched_switch fields = %v", sw.Fields)
	}
	if n, ok := sw.Int("next_pid"); !ok || n != 0 {
		t.Errorf("next_pid = %d, %t", n, ok)
	}
	if probe.Fields["data_len"] != "16" || probe.Fields["src"] != "127.0.0.1:40001" || probe.Flags != "..s3." {
		t.Errorf("tcp_probe = %+v", probe)
	}
	if timer.Fields["function"] != "tcp_delack_timer" || timer.CPU != 1 || timer.Task != "<idle>" {
		t.Errorf("timer_expire_entry = %+v", timer)
	}
}

// TestLongestGapNagleStall: the client thread of a Nagle exchange waits
// ~40 ms between going to sleep on its read and being woken by the reply
// that the delayed ACK let through; that is the longest gap in its events.
func TestLongestGapNagleStall(t *testing.T) {
	tr := readNagleTrace(t)
	g, ok := tr.LongestGap(OfPID(212))
	if !ok {
		t.Fatal("no gap for pid 212")
	}
	if g.Length != 40165*time.Microsecond {
		t.Errorf("longest gap %v, want 40.165ms", g.Length)
	}
	if g.From.Name != "sched_switch" || g.From.Fields["prev_pid"] != "212" || g.To.Name != "sched_waking" || g.To.Fields["pid"] != "212" || g.To.PID != 213 {
		t.Errorf("gap from %s (%v) to %s by %s-%d (%v), want the client's switch out to its wakeup by the server", g.From.Name, g.From.Fields, g.To.Name, g.To.Task, g.To.PID, g.To.Fields)
	}
	// The delayed-ACK timer fired inside the gap.
	inside := false
	for _, e := range tr.Events {
		if e.Name == "timer_expire_entry" && e.Fields["function"] == "tcp_delack_timer" && e.Time > g.From.Time && e.Time < g.To.Time {
			inside = true
		}
	}
	if !inside {
		t.Errorf("tcp_delack_timer did not fire between %v and %v", g.From.Time, g.To.Time)
	}
	// By name: every thread called init; the server's own wait is the
	// longest there, woken by the held segment.
	g, ok = tr.LongestGap(OfTask("init"))
	if !ok || g.Length != 40076*time.Microsecond || g.To.Fields["pid"] != "213" {
		t.Errorf("longest gap of init = %v to %+v, want 40.076ms to the server's wakeup", g.Length, g.To)
	}
	if _, ok := tr.LongestGap(OfPID(9999)); ok {
		t.Errorf("a gap for a pid that is not in the trace")
	}
	if _, ok := tr.LongestGap(OfPID(1)); !ok {
		t.Errorf("no gap for pid 1")
	}
}

func TestParseFtraceLines(t *testing.T) {
	tests := []struct {
		line       string
		task       string
		pid, tgid  int
		cpu        int
		flags      string
		time       time.Duration
		name, args string
	}{
		{"          <idle>-0     [001] d..2  1234.567890: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=init next_pid=201 next_prio=120",
			"<idle>", 0, -1, 1, "d..2", 1234*time.Second + 567890*time.Microsecond, "sched_switch", "prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=init next_pid=201 next_prio=120"},
		{"            init-201   (  201) [000] ....     5.000001: sched_wakeup: comm=init pid=202 prio=120 target_cpu=000",
			"init", 201, 201, 0, "....", 5*time.Second + time.Microsecond, "sched_wakeup", "comm=init pid=202 prio=120 target_cpu=000"},
		{"     ksoftirqd/0-14    (-------) [000] ..s1.    7.5: tcp_retransmit_skb: sport=1",
			"ksoftirqd/0", 14, -1, 0, "..s1.", 7*time.Second + 500*time.Millisecond, "tcp_retransmit_skb", "sport=1"},
		{"Web Content-my-1234 [003]  99.000000001: sched_migrate_task: comm=Web Content pid=1234 prio=120 orig_cpu=3 dest_cpu=1",
			"Web Content-my", 1234, -1, 3, "", 99*time.Second + 1, "sched_migrate_task", "comm=Web Content pid=1234 prio=120 orig_cpu=3 dest_cpu=1"},
	}
	for _, tt := range tests {
		e, ok := parseFtraceLine(tt.line)
		if !ok {
			t.Errorf("%q: not parsed", tt.line)
			continue
		}
		if e.Task != tt.task || e.PID != tt.pid || e.TGID != tt.tgid || e.CPU != tt.cpu || e.Flags != tt.flags || e.Time != tt.time || e.Name != tt.name || e.Args != tt.args {
			t.Errorf("%q:\n got %q %d %d [%d] %q %v %q %q", tt.line, e.Task, e.PID, e.TGID, e.CPU, e.Flags, e.Time, e.Name, e.Args)
		}
	}
	e, _ := parseFtraceLine(tests[3].line)
	if e.Fields["comm"] != "Web Content" || e.Fields["dest_cpu"] != "1" {
		t.Errorf("fields %v: a comm with a space is one value", e.Fields)
	}
	for _, bad := range []string{"no event here", "init-1 [000] ....: sched_switch: x=1", "##### CPU 1 buffer started ####"} {
		if _, ok := parseFtraceLine(bad); ok && !strings.HasPrefix(bad, "#") {
			t.Errorf("%q parsed as an event", bad)
		}
	}
	tr, err := ParseFtrace(strings.NewReader("# tracer: nop\n##### CPU 1 buffer started ####\ngarbage\n"))
	if err != nil || len(tr.Events) != 0 || tr.Unparsed != 1 {
		t.Errorf("ParseFtrace = %+v, %v; want one unparsed line", tr, err)
	}
}
