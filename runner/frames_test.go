package runner

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// TestReadFramesTraces: each Trace frame's data lands in the file the spec
// names and is recorded in the boot; a trace without data is recorded with
// its error; a second trace of one name gets a file of its own.
func TestReadFramesTraces(t *testing.T) {
	dir := t.TempDir()
	spec := BootSpec{Plan: wire.Plan{Trace: true}, TraceDir: dir,
		TraceFile: func(sc string) string { return filepath.Join("traces", "k.000."+sc+".trace.gz") }}.withDefaults()
	b := &boot{s: spec, log: testLogger(t), helloCh: make(chan struct{}), doneCh: make(chan struct{}), res: &results.Boot{}}
	guest, host := net.Pipe()
	defer guest.Close()
	read := make(chan struct{})
	go func() { defer close(read); b.readFrames(host) }()
	traces := []wire.Trace{
		{TraceInfo: wire.TraceInfo{Scenario: "nagle", Events: 7, Bytes: 700, Enabled: []string{"sched/sched_switch"}, Missing: []string{"tcp/tcp_probe"}, BufferKB: 2048}, Data: []byte("gz-nagle")},
		{TraceInfo: wire.TraceInfo{Scenario: "timer", Error: "tracefs: no tracing_on"}},
		{TraceInfo: wire.TraceInfo{Scenario: "nagle", Events: 1, Bytes: 10}, Data: []byte("gz-again")},
	}
	for _, tr := range traces {
		p, err := wire.EncodeTrace(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.Write(guest, wire.Frame{Type: wire.TypeTrace, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := wire.Write(guest, wire.Frame{Type: wire.TypeDone}); err != nil {
		t.Fatal(err)
	}
	<-read
	if b.ev.FrameErr != nil {
		t.Fatalf("frame error: %v", b.ev.FrameErr)
	}
	want := []results.TraceFile{
		{Scenario: "nagle", File: "traces/k.000.nagle.trace.gz", Events: 7, Bytes: 700, Enabled: []string{"sched/sched_switch"}, Missing: []string{"tcp/tcp_probe"}, BufferKB: 2048},
		{Scenario: "timer", Error: "tracefs: no tracing_on"},
		{Scenario: "nagle", File: "traces/k.000.nagle.2.trace.gz", Events: 1, Bytes: 10},
	}
	if !reflect.DeepEqual(b.res.Traces, want) {
		t.Errorf("traces =\n%+v\nwant\n%+v", b.res.Traces, want)
	}
	for i, f := range []string{want[0].File, want[2].File} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || string(got) != string(traces[2*i].Data) {
			t.Errorf("%s = %q, %v; want %q", f, got, err, traces[2*i].Data)
		}
	}
}

// TestReadFramesBadTrace: a Trace frame that does not decode blames the
// agent, as any malformed frame does.
func TestReadFramesBadTrace(t *testing.T) {
	b := &boot{s: BootSpec{}.withDefaults(), log: testLogger(t), helloCh: make(chan struct{}), doneCh: make(chan struct{}), res: &results.Boot{}}
	guest, host := net.Pipe()
	defer guest.Close()
	read := make(chan struct{})
	go func() { defer close(read); b.readFrames(host) }()
	if err := wire.Write(guest, wire.Frame{Type: wire.TypeTrace, Payload: []byte{0, 0}}); err != nil {
		t.Fatal(err)
	}
	<-read
	if b.ev.FrameErr == nil {
		t.Errorf("no frame error for a bad trace frame")
	}
}
