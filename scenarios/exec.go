package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// ExecParams are the parameters of exec.
type ExecParams struct {
	Program string        `yaml:"program" json:"program" doc:"the program to run, a path on the host; the image carries it (and its shared libraries) to /kvet/exec/<basename> (required)"`
	Args    []string      `yaml:"args" json:"args" doc:"its arguments ([])"`
	Timeout time.Duration `yaml:"timeout" json:"timeout" doc:"the program is killed after this long, failing the scenario (quick 1m, full 10m)"`
	// Directions maps unit patterns (path.Match globs) to lower, higher or
	// info; an exact unit beats a glob, a longer glob a shorter one.
	Directions map[string]string `yaml:"directions" json:"directions" doc:"which way each unit gets better, by unit glob: lower, higher or info; units matching nothing are info ({\"*/s\": higher, \"ns/op\": lower})"`
}

// Validate checks the parameters.
func (p *ExecParams) Validate() error {
	switch {
	case p.Program == "":
		return errors.New("program: required (the path of the program to run)")
	case p.Timeout <= 0:
		return fmt.Errorf("timeout: %v must be positive", p.Timeout)
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
		Measures:  "a program of the user's, run in the guest: every value it prints in Go benchmark format (BenchmarkName N value unit ...)",
		Catches:   "whatever the user's own workload is sensitive to",
		OnRequest: true,
		Defaults: func(profile string) *ExecParams {
			p := &ExecParams{Timeout: time.Minute, Directions: map[string]string{"ns/op": "lower", "*/s": "higher"}}
			if profile == Full {
				p.Timeout = 10 * time.Minute
			}
			return p
		},
		Run: runExec,
	})
}

// ExecPath is where the program runs from: the copy under wire.ExecDir when
// there is one (in the guest), else the path as given (on a host).
func ExecPath(program string) string {
	g := filepath.Join(wire.ExecDir, filepath.Base(program))
	if _, err := os.Stat(g); err == nil {
		return g
	}
	return program
}

// execMaxOutput bounds the output kept from the program.
const execMaxOutput = 16 << 20

func runExec(ctx context.Context, env Env, p *ExecParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	prog := ExecPath(p.Program)
	cmd := exec.CommandContext(ctx, prog, p.Args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &execLimitedBuffer{b: &stdout, n: execMaxOutput}
	cmd.Stderr = &execLimitedBuffer{b: &stderr, n: 64 << 10}
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("exec %s: killed after the %v timeout", prog, p.Timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w: %s", prog, err, execTail(stderr.String(), 2000))
	}
	metrics, notes, err := ParseBench(&stdout, prog, p.Directions)
	if err != nil {
		return nil, fmt.Errorf("exec %s: %w", prog, err)
	}
	r.Metrics, r.Notes = metrics, notes
	if len(metrics) == 0 {
		r.Valid = false
		r.Invalid = "the program printed no benchmark lines"
	}
	r.Duration = time.Since(start)
	return r, nil
}

// ParseBench reads Go benchmark format and returns a metric "Name.unit" per
// benchmark and unit (the GOMAXPROCS suffix dropped so names stay stable),
// the median when a benchmark repeats. Lines benchfmt rejects become notes.
func ParseBench(rd io.Reader, file string, directions map[string]string) ([]results.Metric, []string, error) {
	values := map[string][]float64{}
	units := map[string]string{}
	var order, notes []string
	br := benchfmt.NewReader(rd, file)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.SyntaxError:
			notes = append(notes, rec.Error())
		case *benchfmt.Result:
			base, parts := rec.Name.Parts()
			name := string(base)
			for _, part := range parts {
				if !bytes.HasPrefix(part, []byte("-")) {
					name += string(part)
				}
			}
			for _, v := range rec.Values {
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
			}
		}
	}
	if err := br.Err(); err != nil {
		return nil, nil, fmt.Errorf("read benchmark output: %w", err)
	}
	var out []results.Metric
	for _, key := range order {
		unit := units[key]
		out = append(out, results.Metric{Name: key, Unit: unit, Better: execDirection(unit, directions),
			Value: tcpMedian(values[key]), Samples: int64(len(values[key])), Timing: execTiming(unit)})
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

func execTail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
