package scenarios

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// benchProgram is a program that prints Go benchmark lines, as a user's
// benchmark binary would, with noise around them.
const benchProgram = `package main

import "fmt"

func main() {
	fmt.Println("goos: linux")
	fmt.Println("PASS-ish preamble, not a benchmark")
	fmt.Println("BenchmarkEcho-2  1000  1500 ns/op  64 B/op  2 allocs/op  12345 msgs/s")
	fmt.Println("BenchmarkEcho-2  1000  1700 ns/op  64 B/op  2 allocs/op  12000 msgs/s")
	fmt.Println("BenchmarkEcho-2  1000  1600 ns/op  64 B/op  2 allocs/op  12100 msgs/s")
	fmt.Println("BenchmarkSize/n=64-2  10  3.5 widgets")
	fmt.Println("BenchmarkBroken-2  notanumber  1 ns/op")
}
`

// buildBenchProgram builds benchProgram as a static binary.
func buildBenchProgram(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build the test program: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(benchProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module benchprog\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "benchprog")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestExecRun(t *testing.T) {
	bin := buildBenchProgram(t)
	p := &ExecParams{Program: bin, Timeout: 30 * time.Second,
		Directions: map[string]string{"ns/op": "lower", "*/s": "higher", "B/op": "lower"}}
	r := tcpRunScenario(t, "exec", p)
	if !r.Valid {
		t.Fatalf("exec: Valid = false (%s), want true", r.Invalid)
	}
	tests := []struct {
		name    string
		value   float64
		better  results.Direction
		timing  bool
		samples int64
	}{
		// The samples are the iteration counts N, summed over repeats.
		{"Echo.ns/op", 1600, results.LowerIsBetter, true, 3000},
		{"Echo.B/op", 64, results.LowerIsBetter, false, 3000},
		{"Echo.allocs/op", 2, results.Info, false, 3000},
		{"Echo.msgs/s", 12100, results.HigherIsBetter, true, 3000},
		{"Size/n=64.widgets", 3.5, results.Info, false, 10},
	}
	if len(r.Metrics) != len(tests) {
		t.Errorf("exec: %d metrics, want %d: %+v", len(r.Metrics), len(tests), r.Metrics)
	}
	for _, tt := range tests {
		var m *results.Metric
		for i := range r.Metrics {
			if r.Metrics[i].Name == tt.name {
				m = &r.Metrics[i]
			}
		}
		if m == nil {
			t.Errorf("exec: no metric %s", tt.name)
			continue
		}
		if m.Value != tt.value || m.Better != tt.better || m.Timing != tt.timing || m.Samples != tt.samples {
			t.Errorf("exec: %s = %v %s timing=%v samples=%d, want %v %s timing=%v samples=%d",
				tt.name, m.Value, m.Better, m.Timing, m.Samples, tt.value, tt.better, tt.timing, tt.samples)
		}
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "iteration count") {
		t.Errorf("exec: Notes = %q, want one note about the bad iteration count", r.Notes)
	}
}

func TestExecFailures(t *testing.T) {
	s, err := Lookup("exec")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    ExecParams
		want string
	}{
		{"exit status", ExecParams{Program: "/bin/false", Timeout: 10 * time.Second}, "exit status 1"},
		{"timeout", ExecParams{Program: "/bin/sleep", Args: []string{"10"}, Timeout: 100 * time.Millisecond}, "timeout"},
		{"missing", ExecParams{Program: "/nonexistent/prog", Timeout: time.Second}, "no such file"},
	}
	for _, tt := range tests {
		_, err := s.Run(t.Context(), tcpTestEnv(t), &tt.p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Run() error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	r, err := s.Run(t.Context(), tcpTestEnv(t), &ExecParams{Program: "/bin/true", Timeout: 10 * time.Second})
	if err != nil || r.Valid {
		t.Errorf("exec /bin/true: Run() = valid %v, %v; want invalid (no benchmark lines), nil", r != nil && r.Valid, err)
	}
}

func TestParseBench(t *testing.T) {
	dirs := map[string]string{"ns/op": "lower", "*/s": "higher", "*/op": "info", "MB/s": "info"}
	tests := []struct {
		name  string
		in    string
		want  []string // name=value better
		notes int
	}{
		{"empty", "", nil, 0},
		{"gomaxprocs dropped", "BenchmarkX-8 10 5 ns/op\n", []string{"X.ns/op=5 lower"}, 0},
		{"sub-benchmarks kept", "BenchmarkX/a=1/b-4 10 5 ns/op\n", []string{"X/a=1/b.ns/op=5 lower"}, 0},
		{"exact beats glob", "BenchmarkX 10 7 MB/s 3 ops/s\n", []string{"X.MB/s=7 info", "X.ops/s=3 higher"}, 0},
		{"longer glob wins", "BenchmarkX 10 7 B/op\n", []string{"X.B/op=7 info"}, 0},
		{"median of repeats", "BenchmarkX 1 1 ns/op\nBenchmarkX 1 9 ns/op\nBenchmarkX 1 4 ns/op\n", []string{"X.ns/op=4 lower"}, 0},
		{"missing units", "BenchmarkX 10 5\n", nil, 1},
		{"config lines", "goos: linux\ncpu: x\nBenchmarkX 10 5 ns/op\n", []string{"X.ns/op=5 lower"}, 0},
		{"digits of the name kept", "BenchmarkT/i-100 10 5 ns/op\nBenchmarkT/i-1000 10 6 ns/op\n", []string{"T/i-100.ns/op=5 lower", "T/i-1000.ns/op=6 lower"}, 0},
		{"no suffix beside one", "BenchmarkA-2 10 5 ns/op\nBenchmarkB 1 6 ns/op\n", []string{"A.ns/op=5 lower", "B.ns/op=6 lower"}, 0},
		{"one gomaxprocs on every line dropped", "BenchmarkT/i-100-2 10 5 ns/op\nBenchmarkT/i-1000-2 10 6 ns/op\n", []string{"T/i-100.ns/op=5 lower", "T/i-1000.ns/op=6 lower"}, 0},
	}
	for _, tt := range tests {
		ms, notes, err := ParseBench(strings.NewReader(tt.in), "out", dirs)
		if err != nil {
			t.Errorf("%s: ParseBench() error %v", tt.name, err)
			continue
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Name+"="+strconv.FormatFloat(m.Value, 'g', -1, 64)+" "+string(m.Better))
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: ParseBench() = %q, want %q", tt.name, got, tt.want)
		}
		if len(notes) != tt.notes {
			t.Errorf("%s: ParseBench() notes = %q, want %d", tt.name, notes, tt.notes)
		}
	}
}

func FuzzParseBench(f *testing.F) {
	f.Add("BenchmarkX-8 10 5 ns/op 3 B/op\n")
	f.Add("goos: linux\nBenchmarkY/a=1 1 2.5e3 ns/op\nUnit ns/op better=lower\n")
	f.Add("BenchmarkZ 1 NaN ns/op\n")
	f.Fuzz(func(t *testing.T, in string) {
		ms, _, err := ParseBench(strings.NewReader(in), "fuzz", map[string]string{"*": "lower"})
		if err != nil {
			t.Fatalf("ParseBench() error %v on an in-memory reader", err)
		}
		for _, m := range ms {
			if m.Samples < 1 || !strings.Contains(m.Name, ".") {
				t.Errorf("ParseBench() metric %+v: want samples >= 1 and a Name.unit name", m)
			}
		}
	})
}

func TestExecValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *ExecParams)
		field string
	}{
		{"ok", func(p *ExecParams) {}, ""},
		{"no program", func(p *ExecParams) { p.Program = "" }, "program"},
		{"no timeout", func(p *ExecParams) { p.Timeout = 0 }, "timeout"},
		{"bad direction", func(p *ExecParams) { p.Directions = map[string]string{"ns/op": "down"} }, "directions"},
		{"bad pattern", func(p *ExecParams) { p.Directions = map[string]string{"[": "lower"} }, "directions"},
		{"outputs ok", func(p *ExecParams) {
			p.Outputs = []ExecOutput{{File: "c.json", Format: FormatCyclictest, Prefix: "c"}, {File: "k", Format: FormatKV, Prefix: "k"}}
		}, ""},
		{"output without file", func(p *ExecParams) { p.Outputs = []ExecOutput{{Format: FormatKV, Prefix: "k"}} }, "outputs[0]: file"},
		{"output format", func(p *ExecParams) { p.Outputs = []ExecOutput{{File: "k", Format: "xml", Prefix: "k"}} }, "outputs[0] (k): format"},
		{"output prefix", func(p *ExecParams) { p.Outputs = []ExecOutput{{File: "k", Format: FormatKV}} }, "outputs[0] (k): prefix"},
		{"output prefix twice", func(p *ExecParams) {
			p.Outputs = []ExecOutput{{File: "a", Format: FormatKV, Prefix: "k"}, {File: "b", Format: FormatKV, Prefix: "k"}}
		}, "outputs[1] (b): prefix"},
	}
	for _, tt := range tests {
		p := ExecParams{Program: "/bin/true", Timeout: time.Second, Directions: map[string]string{"ns/op": "lower"}}
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}

// TestExecOutputs: a program that leaves its tools' results in files
// (cyclictest's JSON report, kvet scenario's kv lines) gets each read in
// its own format and named by its prefix; stdout, empty, is not read; a
// missing or unreadable file fails the scenario naming it.
func TestExecOutputs(t *testing.T) {
	dir := t.TempDir()
	cyc, err := os.ReadFile("testdata/cyclictest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.json"), cyc, 0o644); err != nil {
		t.Fatal(err)
	}
	kv := filepath.Join(dir, "k.txt")
	p := &ExecParams{Program: "/bin/sh", Args: []string{"-c", "printf 'fifo-1ms.latency.p50 41000 ns\\nfifo-1ms.latency.p99 73000 ns\\n' > " + kv},
		Timeout: 10 * time.Second, Format: FormatBench,
		Outputs: []ExecOutput{{File: filepath.Join(dir, "c.json"), Format: FormatCyclictest, Prefix: "cyclictest"}, {File: kv, Format: FormatKV, Prefix: "kvet"}}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	r := tcpRunScenario(t, "exec", p)
	got := map[string]float64{}
	for _, m := range r.Metrics {
		got[m.Name] = m.Value
	}
	if !r.Valid || got["kvet.fifo-1ms.latency.p50"] != 41000 || got["kvet.fifo-1ms.latency.p99"] != 73000 || got["cyclictest.latency.p50"] <= 0 || got["cyclictest.samples"] <= 0 {
		t.Errorf("exec with outputs: valid %v (%s), metrics %v; want kvet.* from the kv file and cyclictest.* from the report", r.Valid, r.Invalid, got)
	}
	for name := range got {
		if !strings.HasPrefix(name, "kvet.") && !strings.HasPrefix(name, "cyclictest.") {
			t.Errorf("exec with outputs: metric %s has no output's prefix", name)
		}
	}

	s, err := Lookup("exec")
	if err != nil {
		t.Fatal(err)
	}
	missing := *p
	missing.Outputs = []ExecOutput{{File: filepath.Join(dir, "nothing.json"), Format: FormatCyclictest, Prefix: "c"}}
	if _, err := s.Run(t.Context(), tcpTestEnv(t), &missing); err == nil || !strings.Contains(err.Error(), "nothing.json") {
		t.Errorf("exec with a missing output file: %v, want an error naming it", err)
	}
	wrong := *p
	wrong.Outputs = []ExecOutput{{File: kv, Format: FormatCyclictest, Prefix: "c"}}
	if _, err := s.Run(t.Context(), tcpTestEnv(t), &wrong); err == nil || !strings.Contains(err.Error(), "k.txt") || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("exec with an output in another format: %v, want an error naming the file and the format", err)
	}
}
