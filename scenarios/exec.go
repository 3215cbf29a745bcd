package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/kvet/kvet/results"
)

// ExecParams are the parameters of exec.
type ExecParams struct {
	Program string        `yaml:"program" json:"program" doc:"the program to run, a path on the host (relative to the matrix file's folder); the image carries it (and its shared libraries) to /kvet/exec/<basename>; program or script is required"`
	Args    []string      `yaml:"args" json:"args" doc:"its arguments ([])"`
	Script  string        `yaml:"script" json:"script" doc:"instead of program: a shell script run by busybox sh (the host's busybox-static, copied in) in /kvet/exec, with the files on PATH; a server started with & and a client, say"`
	Files   []string      `yaml:"files" json:"files" doc:"more programs and data from the host, each to /kvet/exec/<basename>, programs with their shared libraries ([])"`
	Format  string        `yaml:"format" json:"format" doc:"how to read the output: bench (Go benchmark lines), cyclictest (its --json report, run with -h for percentiles), sockperf (its summary), kv (lines name value unit) (bench)"`
	Outputs []ExecOutput  `yaml:"outputs" json:"outputs" doc:"more results the program leaves in files, each {file, format, prefix}: the file (relative to /kvet/exec) read after the program ends in its format (as format), its metrics named PREFIX.name; so that tools run at once (a reference tool beside kvet scenario --format kv, a load beside its probe) each report in their own format; stdout is then read only when not empty ([])"`
	Timeout time.Duration `yaml:"timeout" json:"timeout" doc:"the program is killed after this long, failing the scenario (quick 1m, full 10m)"`
	// Directions maps unit patterns (path.Match globs) to lower, higher or
	// info; an exact unit beats a glob, a longer glob a shorter one.
	Directions map[string]string `yaml:"directions" json:"directions" doc:"which way each unit gets better, by unit glob: lower, higher or info; units matching nothing are info ({\"*/s\": higher, \"ns/op\": lower})"`
}

// ExecOutput is a file the program writes, read after it ends.
type ExecOutput struct {
	// File is a path in the guest; a relative one is in /kvet/exec, where
	// the program runs.
	File   string `yaml:"file" json:"file"`
	Format string `yaml:"format" json:"format"`
	Prefix string `yaml:"prefix" json:"prefix"`
}

// Validate checks the parameters.
func (p *ExecParams) Validate() error {
	switch {
	case p.Program == "" && p.Script == "":
		return errors.New("program: required (the path of the program to run), or script")
	case p.Program != "" && p.Script != "":
		return errors.New("program and script: give one")
	case p.Script != "" && len(p.Args) > 0:
		return errors.New("args: go with program; a script writes its own command lines")
	case p.Timeout <= 0:
		return fmt.Errorf("timeout: %v must be positive", p.Timeout)
	}
	if p.Format != "" && !slices.Contains(execFormats, p.Format) {
		return fmt.Errorf("format: %q, want one of %s", p.Format, strings.Join(execFormats, ", "))
	}
	seen := map[string]string{ExecShell: "the shell"}
	for _, f := range append([]string{p.Program}, p.Files...) {
		if f == "" {
			continue
		}
		b := filepath.Base(f)
		if other, dup := seen[b]; dup {
			return fmt.Errorf("files: %s and %s would both be /kvet/exec/%s", f, other, b)
		}
		seen[b] = f
	}
	prefixes := map[string]bool{}
	for i, o := range p.Outputs {
		switch {
		case o.File == "":
			return fmt.Errorf("outputs[%d]: file: required", i)
		case !slices.Contains(execFormats, o.Format):
			return fmt.Errorf("outputs[%d] (%s): format: %q, want one of %s", i, o.File, o.Format, strings.Join(execFormats, ", "))
		case o.Prefix == "" || strings.ContainsAny(o.Prefix, " \t/"):
			return fmt.Errorf("outputs[%d] (%s): prefix: %q, want a word that names its metrics (PREFIX.name)", i, o.File, o.Prefix)
		case prefixes[o.Prefix]:
			return fmt.Errorf("outputs[%d] (%s): prefix: %q used twice", i, o.File, o.Prefix)
		}
		prefixes[o.Prefix] = true
	}
	for pat, d := range p.Directions {
		if _, err := path.Match(pat, ""); err != nil {
			return fmt.Errorf("directions: bad unit pattern %q: %w", pat, err)
		}
		switch results.Direction(d) {
		case results.LowerIsBetter, results.HigherIsBetter, results.Info:
		default:
			return fmt.Errorf("directions: %q for %q, want lower, higher or info", d, pat)
		}
	}
	return nil
}

func init() {
	register(def[ExecParams]{
		Name:      "exec",
		Measures:  "a program or shell script of the user's, or a reference tool, run in the guest: every value it prints in Go benchmark format (BenchmarkName N value unit ...), cyclictest's JSON, sockperf's summary or name value unit lines",
		Catches:   "whatever the user's own workload is sensitive to",
		OnRequest: true,
		Defaults: func(profile string) *ExecParams {
			p := &ExecParams{Format: FormatBench, Timeout: time.Minute, Directions: map[string]string{"ns/op": "lower", "*/s": "higher"}}
			if profile == Full {
				p.Timeout = 10 * time.Minute
			}
			return p
		},
		Run: runExec,
	})
}

// execMaxOutput bounds the output kept from the program.
const execMaxOutput = 16 << 20

func runExec(ctx context.Context, env Env, p *ExecParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	cmd, what, err := execCommand(ctx, env, p)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &execLimitedBuffer{b: &stdout, n: execMaxOutput}
	cmd.Stderr = &execLimitedBuffer{b: &stderr, n: 64 << 10}
	err = cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("exec %s: killed after the %v timeout; its output: %s", what, p.Timeout, execOutput(&stdout, &stderr))
	}
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w; its output: %s", what, err, execOutput(&stdout, &stderr))
	}
	var metrics []results.Metric
	var notes []string
	if len(p.Outputs) == 0 || len(bytes.TrimSpace(stdout.Bytes())) > 0 {
		metrics, notes, err = execParse(p.Format, stdout.Bytes(), what, p.Directions)
		if err != nil {
			return nil, fmt.Errorf("exec %s: %w; its output: %s", what, err, execOutput(&stdout, &stderr))
		}
	}
	for _, o := range p.Outputs {
		file := o.File
		if !filepath.IsAbs(file) && cmd.Dir != "" {
			file = filepath.Join(cmd.Dir, file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("exec %s: outputs: %w; its output: %s", what, err, execOutput(&stdout, &stderr))
		}
		ms, ns, err := execParse(o.Format, b, o.File, p.Directions)
		if err != nil {
			return nil, fmt.Errorf("exec %s: outputs: %s: %w; the file: %s", what, o.File, err, execHeadTail(strings.TrimSpace(string(b)), 1000, 1000))
		}
		if len(ms) == 0 {
			return nil, fmt.Errorf("exec %s: outputs: %s has no %s lines: %s", what, o.File, execFormatName(o.Format), execHeadTail(strings.TrimSpace(string(b)), 1000, 1000))
		}
		for i := range ms {
			ms[i].Name = o.Prefix + "." + ms[i].Name
		}
		for _, n := range ns {
			notes = append(notes, o.File+": "+n)
		}
		metrics = append(metrics, ms...)
	}
	r.Metrics, r.Notes = metrics, notes
	if len(metrics) == 0 {
		r.Valid = false
		r.Invalid = fmt.Sprintf("the program printed no %s lines; its output: %s", execFormatName(p.Format), execOutput(&stdout, &stderr))
	}
	r.Duration = time.Since(start)
	return r, nil
}

// execParse reads a program's output (from file, for messages) in format.
func execParse(format string, out []byte, file string, directions map[string]string) ([]results.Metric, []string, error) {
	switch format {
	case FormatCyclictest:
		ms, err := ParseCyclictest(out)
		return ms, nil, err
	case FormatSockperf:
		ms, err := ParseSockperf(out)
		return ms, nil, err
	case FormatKV:
		return ParseKV(bytes.NewReader(out), directions)
	default:
		return ParseBench(bytes.NewReader(out), file, directions)
	}
}

// ParseBench reads Go benchmark format and returns a metric "Name.unit" per
// benchmark and unit, the median when a benchmark repeats, and the sum of
// the iteration counts N as its samples. The -N GOMAXPROCS suffix is dropped
// so names stay stable only when every benchmark line that has one carries
// the same: names that end in their own digits (i-100, i-1000) keep them. Lines
// benchfmt rejects become notes.
func ParseBench(rd io.Reader, file string, directions map[string]string) ([]results.Metric, []string, error) {
	type rec struct {
		base  string
		parts [][]byte
		iters int
		vals  []benchfmt.Value
	}
	var recs []rec
	var notes []string
	procs := map[string]bool{}
	br := benchfmt.NewReader(rd, file)
	for br.Scan() {
		switch r := br.Result().(type) {
		case *benchfmt.SyntaxError:
			notes = append(notes, r.Error())
		case *benchfmt.Result:
			base, parts := r.Name.Parts()
			if n := len(parts); n > 0 && bytes.HasPrefix(parts[n-1], []byte("-")) {
				procs[string(parts[n-1])] = true
			}
			recs = append(recs, rec{string(base), slices.Clone(parts), r.Iters, slices.Clone(r.Values)})
		}
	}
	if err := br.Err(); err != nil {
		return nil, nil, fmt.Errorf("read benchmark output: %w", err)
	}
	dropProcs := len(procs) == 1
	values := map[string][]float64{}
	samples := map[string]int64{}
	units := map[string]string{}
	var order []string
	for _, r := range recs {
		name := r.base
		for i, part := range r.parts {
			if !(dropProcs && i == len(r.parts)-1 && bytes.HasPrefix(part, []byte("-"))) {
				name += string(part)
			}
		}
		for _, v := range r.vals {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue // the program's own unit, not benchfmt's tidied one
			}
			key := name + "." + unit
			if _, ok := values[key]; !ok {
				order = append(order, key)
				units[key] = unit
			}
			values[key] = append(values[key], val)
			samples[key] += int64(max(r.iters, 1))
		}
	}
	var out []results.Metric
	for _, key := range order {
		unit := units[key]
		out = append(out, results.Metric{Name: key, Unit: unit, Better: execDirection(unit, directions),
			Value: tcpMedian(values[key]), Samples: samples[key], Timing: execTiming(unit)})
	}
	return out, notes, nil
}

// execDirection picks the direction for unit: an exact pattern first, then
// the longest matching glob.
func execDirection(unit string, directions map[string]string) results.Direction {
	if d, ok := directions[unit]; ok {
		return results.Direction(d)
	}
	pats := make([]string, 0, len(directions))
	for p := range directions {
		pats = append(pats, p)
	}
	sort.Slice(pats, func(i, j int) bool {
		if len(pats[i]) != len(pats[j]) {
			return len(pats[i]) > len(pats[j])
		}
		return pats[i] < pats[j]
	})
	for _, p := range pats {
		if ok, _ := path.Match(p, unit); ok {
			return results.Direction(directions[p])
		}
	}
	return results.Info
}

// execTiming says whether a unit measures time or a rate, which depends on
// the accelerator; counts such as B/op or allocs/op do not.
func execTiming(unit string) bool {
	if strings.HasSuffix(unit, "/s") {
		return true
	}
	num, _, _ := strings.Cut(unit, "/")
	switch num {
	case "ns", "us", "µs", "ms", "s", "sec":
		return true
	}
	return false
}

// execLimitedBuffer keeps the first n bytes written and discards the rest, so a
// chatty program cannot exhaust the guest's memory.
type execLimitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *execLimitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
