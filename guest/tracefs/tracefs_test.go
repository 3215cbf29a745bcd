package tracefs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeTracefs lays out the files of a tracefs under dir: the control files
// and an enable file per event named.
func fakeTracefs(t *testing.T, dir string, events ...string) {
	t.Helper()
	files := map[string]string{"tracing_on": "1\n", "buffer_size_kb": "1408\n", "trace": "old events\n", "trace_marker": "",
		"trace_clock": "[local] global counter uptime perf mono mono_raw boot\n", "events/enable": "X\n"}
	for _, e := range events {
		files[filepath.Join("events", e, "enable")] = "0\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFindMounts: tracefs is used where it is mounted, mounted at its own
// place when it is not, and found inside debugfs when tracefs cannot be
// mounted.
func TestFindMounts(t *testing.T) {
	tests := []struct {
		name     string
		mounted  string // where a tracefs already is
		tracefs  bool   // mounting tracefs works
		debugfs  bool   // mounting debugfs works
		want     string // where it is found, "" for an error
		wantCall []string
	}{
		{name: "mounted", mounted: Path, want: Path},
		{name: "mount tracefs", tracefs: true, want: Path, wantCall: []string{"tracefs on " + Path}},
		{name: "inside debugfs", mounted: DebugPath, want: DebugPath, wantCall: []string{"tracefs on " + Path}},
		{name: "mount debugfs", debugfs: true, want: DebugPath, wantCall: []string{"tracefs on " + Path, "debugfs on /sys/kernel/debug"}},
		{name: "none", wantCall: []string{"tracefs on " + Path, "debugfs on /sys/kernel/debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.mounted != "" {
				fakeTracefs(t, filepath.Join(root, tt.mounted))
			}
			var calls []string
			mount := func(source, dir, fstype string) error {
				rel := strings.TrimPrefix(dir, root)
				calls = append(calls, fstype+" on "+rel)
				switch {
				case fstype == "tracefs" && tt.tracefs:
					fakeTracefs(t, dir)
				case fstype == "debugfs" && tt.debugfs:
					fakeTracefs(t, filepath.Join(dir, "tracing"))
				default:
					return errors.New("no such device")
				}
				return nil
			}
			fs, err := Find(root, mount)
			if !reflect.DeepEqual(calls, tt.wantCall) {
				t.Errorf("mounts %q, want %q", calls, tt.wantCall)
			}
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "no such device") {
					t.Errorf("Find = %v, %v; want an error that says why", fs, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fs.Dir != filepath.Join(root, tt.want) {
				t.Errorf("Find = %s, want %s", fs.Dir, filepath.Join(root, tt.want))
			}
		})
	}
}

// TestPrepareOnOffRead: a trace is prepared with tracing off, every event
// off, the buffer sized, the trace cleared, and only the events that exist
// turned on; the missing ones are named.
func TestPrepareOnOffRead(t *testing.T) {
	dir := t.TempDir()
	fakeTracefs(t, dir, "sched/sched_switch", "sched/sched_wakeup", "tcp/tcp_retransmit_skb")
	fs, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fs.Prepare(Config{BufferKB: 2048, Clock: "mono", Events: []string{"sched/sched_switch", "sched/sched_wakeup", "tcp/tcp_probe", "tcp/tcp_retransmit_skb"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Setup{Enabled: []string{"sched/sched_switch", "sched/sched_wakeup", "tcp/tcp_retransmit_skb"}, Missing: []string{"tcp/tcp_probe"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Prepare = %+v, want %+v", s, want)
	}
	for name, want := range map[string]string{
		"tracing_on": "0", "buffer_size_kb": "2048", "trace": "", "trace_clock": "mono", "events/enable": "0",
		"events/sched/sched_switch/enable": "1", "events/tcp/tcp_retransmit_skb/enable": "1",
	} {
		if got := read(t, dir, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "events/tcp/tcp_probe")); err == nil {
		t.Errorf("Prepare created a missing event's directory")
	}
	if err := fs.On(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dir, "tracing_on"); got != "1" {
		t.Errorf("tracing_on = %q after On, want 1", got)
	}
	if err := fs.Off(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dir, "tracing_on"); got != "0" {
		t.Errorf("tracing_on = %q after Off, want 0", got)
	}
	if err := fs.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dir, "events/enable"); got != "0" {
		t.Errorf("events/enable = %q after Reset, want 0", got)
	}
}

func TestPrepareRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	fakeTracefs(t, dir)
	fs := &FS{Dir: dir}
	for _, e := range []string{"sched_switch", "../../x", "sched/", "/x", "a/b/c", "../x"} {
		if _, err := fs.Prepare(Config{Events: []string{e}}); err == nil {
			t.Errorf("Prepare(%q) = nil, want an error", e)
		}
	}
}

// TestPrepareWithoutTracefs: a directory that is not a tracefs is an error,
// never files created in it.
func TestPrepareWithoutTracefs(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil {
		t.Errorf("Open of an empty directory = nil, want an error")
	}
	fs := &FS{Dir: dir}
	if _, err := fs.Prepare(Config{Events: []string{"sched/sched_switch"}}); err == nil {
		t.Errorf("Prepare = nil, want an error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Prepare created %d files in a directory that is no tracefs", len(ents))
	}
}

const sample = `# tracer: nop
#
# entries-in-buffer/entries-written: 3/3   #P:2
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
          <idle>-0       [001] d..2.    12.000100: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=init next_pid=201 next_prio=120
CPU:1 [LOST 3 EVENTS]
            init-201     [001] d..2.    12.000200: sched_switch: prev_comm=init prev_pid=201 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
          <idle>-0       [000] dNh2.    12.040300: sched_wakeup: comm=init pid=201 prio=120 target_cpu=001
`

func TestReadTrace(t *testing.T) {
	dir := t.TempDir()
	fakeTracefs(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "trace"), []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := &FS{Dir: dir}
	var b bytes.Buffer
	r, err := fs.ReadTrace(&b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != sample || r != (Read{Bytes: int64(len(sample)), Events: 3}) {
		t.Errorf("ReadTrace = %+v, %d bytes; want the whole trace, 3 events", r, b.Len())
	}
	// Cut inside the last line: whole lines only.
	b.Reset()
	last := strings.LastIndex(strings.TrimSuffix(sample, "\n"), "\n") + 1
	r, err = fs.ReadTrace(&b, int64(last+10))
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != sample[:last] || !r.Truncated || r.Events != 2 || r.Bytes != int64(last) {
		t.Errorf("ReadTrace cut = %+v, %q; want the lines before the last, truncated", r, b.String())
	}
}
