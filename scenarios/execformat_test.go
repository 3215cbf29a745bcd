package scenarios

import (
	"github.com/kvet/kvet/internal/wire"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

func metricValue(t *testing.T, ms []results.Metric, name string) float64 {
	t.Helper()
	for _, m := range ms {
		if m.Name == name {
			return m.Value
		}
	}
	t.Fatalf("no metric %s in %v", name, ms)
	return 0
}

// A real report of cyclictest 2.4 (-m -p95 -i1000 -t2 -a -D1 -q -h 2000).
func TestParseCyclictest(t *testing.T) {
	b, err := os.ReadFile("testdata/cyclictest.json")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ParseCyclictest(append([]byte("# a script's own line\n"), b...))
	if err != nil {
		t.Fatalf("ParseCyclictest() error %v", err)
	}
	for _, tt := range []struct {
		name string
		want float64
	}{{"latency.min", 21e3}, {"latency.max", 22360e3}, {"samples", 1929}} {
		if got := metricValue(t, ms, tt.name); got != tt.want {
			t.Errorf("ParseCyclictest() %s = %v, want %v", tt.name, got, tt.want)
		}
	}
	p50, p99 := metricValue(t, ms, "latency.p50"), metricValue(t, ms, "latency.p99")
	if p50 < 21e3 || p50 > p99 || p99 > 22360e3 {
		t.Errorf("ParseCyclictest() p50 %v, p99 %v: want min <= p50 <= p99 <= max", p50, p99)
	}
	for _, bad := range []string{"", "{}", `{"thread": {"0": {"cycles": 10, "histogram": {}}}}`, `{"thread": {"0": {"cycles": 1, "histogram": {"x": 1}}}}`} {
		if _, err := ParseCyclictest([]byte(bad)); err == nil {
			t.Errorf("ParseCyclictest(%q) = nil error, want one", bad)
		}
	}
}

// Real summaries of sockperf 3.7 ping-pong, 64 bytes, with and without
// --full-rtt.
func TestParseSockperf(t *testing.T) {
	for _, tt := range []struct {
		file, prefix string
		p50, p99     float64
	}{{"testdata/sockperf-full-rtt.txt", "rtt", 17262, 187002}, {"testdata/sockperf.txt", "latency", 8721, 117827}} {
		b, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := ParseSockperf(b)
		if err != nil {
			t.Fatalf("ParseSockperf(%s) error %v", tt.file, err)
		}
		if got := metricValue(t, ms, tt.prefix+".p50"); got != tt.p50 {
			t.Errorf("ParseSockperf(%s) %s.p50 = %v, want %v", tt.file, tt.prefix, got, tt.p50)
		}
		if got := metricValue(t, ms, tt.prefix+".p99"); got != tt.p99 {
			t.Errorf("ParseSockperf(%s) %s.p99 = %v, want %v", tt.file, tt.prefix, got, tt.p99)
		}
	}
	if _, err := ParseSockperf([]byte("sockperf: nothing useful\n")); err == nil {
		t.Error("ParseSockperf(no summary) = nil error, want one")
	}
}

func TestParseKV(t *testing.T) {
	in := "ops 10 ops/s\nlatency 5 ns\nnot a line at all\nops 30 ops/s\nops 20 ops/s\n"
	ms, notes, err := ParseKV(strings.NewReader(in), map[string]string{"*/s": "higher"})
	if err != nil {
		t.Fatalf("ParseKV() error %v", err)
	}
	if len(ms) != 2 || ms[0].Name != "ops" || ms[0].Value != 20 || ms[0].Samples != 3 || ms[0].Better != "higher" {
		t.Errorf("ParseKV() = %+v, want ops = 20 (median of 3) higher, then latency", ms)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "line 3") {
		t.Errorf("ParseKV() notes = %q, want one naming line 3", notes)
	}
	if _, _, err := ParseKV(strings.NewReader("x 1 ns\nx 2 us\n"), nil); err == nil {
		t.Error("ParseKV(one name in two units) = nil error, want one")
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add("ops 10 ops/s\n")
	f.Add("a b c\n1 2 3\n")
	f.Fuzz(func(t *testing.T, in string) {
		ms, _, err := ParseKV(strings.NewReader(in), nil)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Samples < 1 || m.Name == "" {
				t.Errorf("ParseKV() metric %+v", m)
			}
		}
	})
}

func FuzzParseSockperf(f *testing.F) {
	if b, err := os.ReadFile("testdata/sockperf.txt"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) { ParseSockperf([]byte(in)) })
}

func FuzzParseCyclictest(f *testing.F) {
	if b, err := os.ReadFile("testdata/cyclictest.json"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, in string) { ParseCyclictest([]byte(in)) })
}

// A script entry runs under busybox sh with its files on PATH; a failing
// program's output is shown head and tail; output without the expected
// lines is shown in the reason.
func TestExecScript(t *testing.T) {
	if _, err := HostShell(); err != nil {
		t.Skipf("no static busybox: %v", err)
	}
	s, err := Lookup("exec")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(t.Context(), tcpTestEnv(t), &ExecParams{Format: FormatKV, Timeout: 10 * time.Second,
		Script: "sleep 0.01 & wait; echo ops 12 ops/s; echo ops 14 ops/s"})
	if err != nil || !r.Valid || len(r.Metrics) != 1 || r.Metrics[0].Value != 13 {
		t.Fatalf("exec script: Run() = %+v, %v; want ops = 13", r, err)
	}
	long := "echo first-error-line >&2; i=0; while [ $i -lt 400 ]; do echo filler-$i >&2; i=$((i+1)); done; echo last-line >&2; exit 3"
	_, err = s.Run(t.Context(), tcpTestEnv(t), &ExecParams{Timeout: 10 * time.Second, Script: long})
	if err == nil || !strings.Contains(err.Error(), "first-error-line") || !strings.Contains(err.Error(), "last-line") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("exec failing script: error %v, want the exit status, the first and the last line", err)
	}
	r, err = s.Run(t.Context(), tcpTestEnv(t), &ExecParams{Timeout: 10 * time.Second, Script: "echo hello there"})
	if err != nil || r.Valid || !strings.Contains(r.Invalid, "hello there") {
		t.Errorf("exec script without benchmark lines: Run() = %+v, %v; want invalid showing its output", r, err)
	}
}

// An exec program learns which boot it runs in from KVET_KERNEL,
// KVET_BOOT and KVET_ATTEMPT; outside a run's guest none is set.
func TestExecBootEnv(t *testing.T) {
	if _, err := HostShell(); err != nil {
		t.Skipf("no static busybox: %v", err)
	}
	s, err := Lookup("exec")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KVET_ATTEMPT", "")
	env := tcpTestEnv(t)
	env.Boot = wire.BootID{Kernel: "6.12", Index: 4, Attempt: 2}
	script := `echo boot $KVET_BOOT count; echo attempt $KVET_ATTEMPT count; [ "$KVET_KERNEL" = 6.12 ] && echo kernel 1 count`
	r, err := s.Run(t.Context(), env, &ExecParams{Format: FormatKV, Timeout: 10 * time.Second, Script: script})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, m := range r.Metrics {
		got[m.Name] = m.Value
	}
	if got["boot"] != 4 || got["attempt"] != 2 || got["kernel"] != 1 {
		t.Errorf("exec in boot 6.12#4 attempt 2 saw %v, want boot 4, attempt 2, kernel 6.12", got)
	}
	r, err = s.Run(t.Context(), tcpTestEnv(t), &ExecParams{Format: FormatKV, Timeout: 10 * time.Second,
		Script: `[ -z "$KVET_ATTEMPT" ] && echo unset 1 count`})
	if err != nil || len(r.Metrics) != 1 {
		t.Errorf("exec outside a run: %+v, %v; want KVET_ATTEMPT unset", r, err)
	}
}

func TestExecResolvePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) {
		if err := os.WriteFile(dir+"/"+name, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("tool", "\x7fELF....", 0o755)
	write("run.sh", "#!/bin/sh\necho hi\n", 0o755)
	write("data", "x", 0o644)
	p := &ExecParams{Program: "tool", Files: []string{"data"}}
	if err := p.ResolvePaths(dir); err != nil || p.Program != dir+"/tool" || p.Files[0] != dir+"/data" {
		t.Errorf("ResolvePaths(relative) = %v, program %s files %v; want both under %s", err, p.Program, p.Files, dir)
	}
	for _, tt := range []struct {
		p    ExecParams
		want string
	}{
		{ExecParams{Program: "run.sh"}, "is a script (#!/bin/sh)"},
		{ExecParams{Program: "data"}, "not an executable"},
		{ExecParams{Program: "missing"}, "no such file"},
		{ExecParams{Program: "tool", Files: []string{"gone"}}, "files:"},
	} {
		if err := tt.p.ResolvePaths(dir); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ResolvePaths(%+v) = %v, want an error containing %q", tt.p, err, tt.want)
		}
	}
}
