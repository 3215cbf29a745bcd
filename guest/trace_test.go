package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/kvet/kvet/internal/wire"
)

// fakeTracer records what it was asked and hands back a trace named by
// its start; a scenario named in fail cannot be traced.
type fakeTracer struct {
	fail    string
	starts  []string
	events  [][]string
	buffers []int
	running string
}

func (f *fakeTracer) Start(scenario string, events []string, bufferKB int) error {
	f.starts = append(f.starts, scenario)
	f.events = append(f.events, events)
	f.buffers = append(f.buffers, bufferKB)
	if scenario == f.fail {
		return errors.New("tracefs: no tracing_on")
	}
	f.running = scenario
	return nil
}

func (f *fakeTracer) Stop() wire.Trace {
	if f.running == "" {
		panic("Stop without a running trace")
	}
	tr := wire.Trace{TraceInfo: wire.TraceInfo{Enabled: []string{"sched/sched_switch"}, Missing: []string{"tcp/tcp_probe"}, Events: 1, Bytes: 5}, Data: []byte("gz:" + f.running)}
	f.running = ""
	return tr
}

// TestAgentTraces: a plan that asks for traces gets one Trace frame before
// each result, named as the result is, with the TCP events asked for a TCP
// scenario only; a trace that cannot be taken says why and the scenario
// still runs.
func TestAgentTraces(t *testing.T) {
	plan := wire.Plan{Profile: "quick", Trace: true, TraceBufferKB: 1 << 30,
		Scenarios: []wire.Invocation{{Name: "nagle"}, {Name: "timer", Label: "timer-fifo"}, {Name: "pipe"}}}
	for _, withTracer := range []bool{true, false} {
		guestEnd, hostEnd := net.Pipe()
		ft := &fakeTracer{fail: "pipe"}
		a := &Agent{Runner: &fakeRunner{}}
		if withTracer {
			a.Tracer = ft
		}
		served := make(chan error, 1)
		go func() { served <- a.Serve(context.Background(), guestEnd) }()
		_, frames, err := host(t, hostEnd, plan)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		guestEnd.Close()
		hostEnd.Close()
		var got []string
		var traces []wire.Trace
		for _, f := range frames {
			switch f.Type {
			case wire.TypeTrace:
				tr, err := wire.DecodeTrace(f.Payload)
				if err != nil {
					t.Fatal(err)
				}
				traces = append(traces, tr)
				got = append(got, "trace:"+tr.Scenario)
			case wire.TypeResult:
				got = append(got, "result")
			}
		}
		if want := []string{"trace:nagle", "result", "trace:timer-fifo", "result", "trace:pipe", "result"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("tracer %t: frames %q, want %q", withTracer, got, want)
		}
		if !withTracer {
			for _, tr := range traces {
				if tr.Error == "" || len(tr.Data) > 0 {
					t.Errorf("no tracer: trace %+v, want an error and no data", tr.TraceInfo)
				}
			}
			continue
		}
		if string(traces[0].Data) != "gz:nagle" || string(traces[1].Data) != "gz:timer-fifo" || traces[0].Missing[0] != "tcp/tcp_probe" {
			t.Errorf("traces %+v, want each scenario's own", traces)
		}
		if traces[2].Error == "" || !strings.Contains(traces[2].Error, "tracing_on") || len(traces[2].Data) > 0 {
			t.Errorf("untraceable scenario: %+v, want its error", traces[2].TraceInfo)
		}
		if want := []int{wire.MaxTraceBufferKB, wire.MaxTraceBufferKB, wire.MaxTraceBufferKB}; !reflect.DeepEqual(ft.buffers, want) {
			t.Errorf("buffers %v, want the plan's bounded to %v", ft.buffers, want)
		}
		if !reflect.DeepEqual(ft.events[0], append(append([]string{}, SchedEvents...), TCPEvents...)) || !reflect.DeepEqual(ft.events[1], SchedEvents) {
			t.Errorf("events %q, want the TCP events for nagle only", ft.events)
		}
	}
}

// TestAgentNoTraceUnasked: without Plan.Trace nothing is traced.
func TestAgentNoTraceUnasked(t *testing.T) {
	guestEnd, hostEnd := net.Pipe()
	defer guestEnd.Close()
	defer hostEnd.Close()
	ft := &fakeTracer{}
	a := &Agent{Runner: &fakeRunner{}, Tracer: ft}
	go a.Serve(context.Background(), guestEnd)
	_, frames, err := host(t, hostEnd, wire.Plan{Scenarios: []wire.Invocation{{Name: "nagle"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if f.Type == wire.TypeTrace {
			t.Errorf("a trace frame for a plan that asked for none")
		}
	}
	if len(ft.starts) != 0 {
		t.Errorf("tracer started %d times", len(ft.starts))
	}
}

// fakeTracefs lays out a tracefs under root's Path with the events named.
func fakeTracefs(t *testing.T, root string, events ...string) string {
	t.Helper()
	dir := filepath.Join(root, "sys/kernel/tracing")
	files := map[string]string{"tracing_on": "0\n", "buffer_size_kb": "1408\n", "trace": "", "trace_marker": "", "trace_clock": "[local] mono\n", "events/enable": "0\n"}
	for _, e := range events {
		files["events/"+e+"/enable"] = "0\n"
	}
	for name, c := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gunzip(t *testing.T, data []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const recorded = `# tracer: nop
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
            init-1       [000] ...1.     5.000001: tracing_mark_write: C|1|kvet scenario nagle|1
            init-201     [001] d..2.     5.000100: sched_switch: prev_comm=init prev_pid=201 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
          <idle>-0       [001] dNh2.     5.040200: sched_wakeup: comm=init pid=201 prio=120 target_cpu=001
`

// TestFtraceTracer: on a fake tracefs, a trace turns on the events that
// exist, records between Start and Stop, and comes back compressed and
// whole, or cut at the cap with a note; tracing is off after.
func TestFtraceTracer(t *testing.T) {
	root := t.TempDir()
	dir := fakeTracefs(t, root, "sched/sched_switch", "sched/sched_wakeup", "tcp/tcp_retransmit_skb")
	mount := func(source, dir, fstype string) error { return errors.New("no mounting in a test") }
	tr := &FtraceTracer{Root: root, Mount: mount}
	if err := tr.Start("nagle", TraceEvents("nagle"), 2048); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"tracing_on": "1", "buffer_size_kb": "2048", "trace_clock": "mono", "events/sched/sched_switch/enable": "1",
		"trace_marker": fmt.Sprintf("C|%d|kvet scenario nagle|1", os.Getpid())} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s = %q while tracing, want %q", name, b, want)
		}
	}
	// The kernel records.
	if err := os.WriteFile(filepath.Join(dir, "trace"), []byte(recorded), 0o644); err != nil {
		t.Fatal(err)
	}
	got := tr.Stop()
	if got.Error != "" {
		t.Fatal(got.Error)
	}
	if text := gunzip(t, got.Data); text != recorded {
		t.Errorf("trace text = %q, want %q", text, recorded)
	}
	wantInfo := wire.TraceInfo{Scenario: "nagle", BufferKB: 2048, Bytes: int64(len(recorded)), Events: 3,
		Enabled: []string{"sched/sched_switch", "sched/sched_wakeup", "tcp/tcp_retransmit_skb"},
		Missing: []string{"sched/sched_waking", "sched/sched_wakeup_new", "sched/sched_migrate_task", "tcp/tcp_probe", "timer/timer_expire_entry", "timer/hrtimer_expire_entry"}}
	if !reflect.DeepEqual(got.TraceInfo, wantInfo) {
		t.Errorf("trace info = %+v, want %+v", got.TraceInfo, wantInfo)
	}
	for name, want := range map[string]string{"tracing_on": "0", "events/enable": "0", "trace": ""} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s = %q after Stop, want %q", name, b, want)
		}
	}

	// The cap: whole lines up to it, and a comment that says so.
	tr.MaxText = int64(strings.Index(recorded, "          <idle>"))
	if err := tr.Start("nagle", SchedEvents, 64); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "trace"), []byte(recorded), 0o644)
	got = tr.Stop()
	text := gunzip(t, got.Data)
	if !got.Truncated || got.Events != 2 || !strings.HasPrefix(text, recorded[:tr.MaxText]) || !strings.Contains(text[tr.MaxText:], "# kvet: trace cut at") {
		t.Errorf("capped trace: %+v\n%s\nwant two events and a note of the cut", got.TraceInfo, text)
	}
}

// TestFtraceTracerWithoutTracefs: a kernel without tracefs gives a trace
// that says so, and no data.
func TestFtraceTracerWithoutTracefs(t *testing.T) {
	tr := &FtraceTracer{Root: t.TempDir(), Mount: func(string, string, string) error { return errors.New("no such device") }}
	if err := tr.Start("timer", SchedEvents, 64); err == nil {
		t.Fatal("Start without a tracefs = nil, want an error")
	}
	if got := tr.Stop(); !strings.Contains(got.Error, "no such device") || got.Data != nil {
		t.Errorf("Stop = %+v, want the mount's error and no data", got.TraceInfo)
	}
}
