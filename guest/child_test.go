package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

const childEnv = "KVET_GUEST_TEST_CHILD"

// TestMain lets the test binary stand in for `/init scenario-child NAME`.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" && len(os.Args) == 3 && os.Args[1] == ChildVerb {
		os.Exit(fakeChild(os.Args[2]))
	}
	os.Exit(m.Run())
}

func fakeChild(name string) int {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "input:", err)
		return 3
	}
	switch name {
	case "ok":
		fmt.Fprintln(os.Stderr, "hello from ok")
		json.NewEncoder(os.Stdout).Encode(results.Scenario{Name: name, Valid: true,
			Params: in.Params, Metrics: []results.Metric{{Name: "seed", Value: float64(in.Seed)}}})
		return 0
	case "env":
		json.NewEncoder(os.Stdout).Encode(results.Scenario{Name: name, Valid: true, Invalid: os.Getenv("GODEBUG")})
		return 0
	case "fail":
		fmt.Fprintln(os.Stderr, "first line")
		fmt.Fprintln(os.Stderr, "it broke")
		return 1
	case "failjson":
		json.NewEncoder(os.Stdout).Encode(results.Scenario{Name: name, Error: "said why"})
		return 1
	case "badjson":
		fmt.Println("{not json")
		return 0
	case "crash":
		panic("boom")
	case "hang":
		// A grandchild holds stdout open too: the kill must reach it.
		exec.Command("sleep", "60").Start()
		time.Sleep(time.Minute)
	}
	return 4
}

func TestExecRunner(t *testing.T) {
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		timeout   time.Duration
		wantValid bool
		wantErr   string // substring of Error, "" for none
		wantLog   string // substring of some log line
		check     func(t *testing.T, s results.Scenario)
	}{
		{name: "ok", wantValid: true, wantLog: "hello from ok", check: func(t *testing.T, s results.Scenario) {
			if len(s.Metrics) != 1 || s.Metrics[0].Value != 42 || string(s.Params) != `{"a":1}` {
				t.Errorf("result = %+v, want seed 42 and params {\"a\":1} echoed", s)
			}
		}},
		{name: "env", wantValid: true, check: func(t *testing.T, s results.Scenario) {
			if s.Invalid != "asyncpreemptoff=1" {
				t.Errorf("child GODEBUG = %q, want asyncpreemptoff=1", s.Invalid)
			}
		}},
		{name: "fail", wantErr: "exit status 1: it broke", wantLog: "first line"},
		{name: "failjson", wantErr: "said why"},
		{name: "badjson", wantErr: "bad result"},
		{name: "crash", wantErr: "exit status 2", wantLog: "panic: boom"},
		{name: "hang", timeout: 300 * time.Millisecond, wantErr: "timed out"},
	}
	for _, reap := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/reaper=%v", tt.name, reap), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				r := &ExecRunner{Path: exe, Grace: 500 * time.Millisecond}
				if reap {
					r.Reaper = NewReaper(ctx)
				}
				rctx := ctx
				if tt.timeout > 0 {
					var c context.CancelFunc
					rctx, c = context.WithTimeout(ctx, tt.timeout)
					defer c()
				}
				var logs []string
				start := time.Now()
				s := r.RunScenario(rctx, tt.name, Input{Profile: "quick", Params: json.RawMessage(`{"a":1}`), CPUs: 2, Seed: 42},
					func(l string) { logs = append(logs, l) })
				if el := time.Since(start); el > 10*time.Second {
					t.Errorf("RunScenario took %v", el)
				}
				if s.Valid != tt.wantValid {
					t.Errorf("Valid = %v, want %v (error %q)", s.Valid, tt.wantValid, s.Error)
				}
				if tt.wantErr == "" && s.Error != "" || !strings.Contains(s.Error, tt.wantErr) {
					t.Errorf("Error = %q, want %q", s.Error, tt.wantErr)
				}
				if tt.wantLog != "" && !strings.Contains(strings.Join(logs, "\n"), tt.wantLog) {
					t.Errorf("logs = %q, want a line with %q", logs, tt.wantLog)
				}
				if tt.check != nil {
					tt.check(t, s)
				}
			})
		}
	}
}

// TestRunScenarioErrors drives the child's side without measuring.
func TestRunScenarioErrors(t *testing.T) {
	tests := []struct {
		name, scenario, stdin string
		want                  int
		wantLog               string
	}{
		{"unknown scenario", "nope", `{}`, 2, "unknown scenario"},
		{"bad input", "timer", `{"profile":`, 2, "input"},
		{"unknown input field", "timer", `{"profil":"quick"}`, 2, "input"},
		{"unknown param", "timer", `{"profile":"quick","params":{"prio":3}}`, 2, "params"},
		{"invalid param", "timer", `{"profile":"quick","params":{"priority":300}}`, 2, "priority 300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb strings.Builder
			got := runScenario(context.Background(), tt.scenario, strings.NewReader(tt.stdin), &out, &errb)
			if got != tt.want {
				t.Errorf("runScenario(%s, %s) = %d, want %d (stderr %q)", tt.scenario, tt.stdin, got, tt.want, errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantLog) {
				t.Errorf("stderr = %q, want %q", errb.String(), tt.wantLog)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out.String())
			}
		})
	}
}

// TestRunScenarioTimer runs the real timer scenario through the child's entry
// point; it needs root for SCHED_FIFO.
func TestRunScenarioTimer(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("needs root and measures")
	}
	in := `{"profile":"quick","params":{"duration":50000000,"variants":["fifo-1ms"]},"cpus":1,"seed":3}`
	var out, errb strings.Builder
	if got := runScenario(context.Background(), "timer", strings.NewReader(in), &out, io.MultiWriter(&errb)); got != 0 {
		t.Fatalf("runScenario(timer) = %d, want 0; stderr %q", got, errb.String())
	}
	var s results.Scenario
	if err := json.Unmarshal([]byte(out.String()), &s); err != nil {
		t.Fatalf("result: %v", err)
	}
	if s.Name != "timer" || s.Duration < 50*time.Millisecond || !s.Valid || len(s.Metrics) == 0 {
		t.Errorf("result = %+v, want a valid timer result of at least 50ms", s)
	}
	var p map[string]any
	if err := json.Unmarshal(s.Params, &p); err != nil || p["priority"] != 95.0 || p["duration"] != 5e7 {
		t.Errorf("params = %s, want the effective params (priority 95 from defaults, duration 50ms)", s.Params)
	}
}

// TestRunScenarioFailureWhole: a scenario that fails with an error over
// several lines (a program's output, head and tail) sends all of it back,
// through the runner, not just the last line its parent saw on stderr.
func TestRunScenarioFailureWhole(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	in := `{"profile":"quick","params":{"program":"/bin/sh","args":["-c","echo the first error >&2; echo more >&2; echo last line; exit 3"]}}`
	var out, errb strings.Builder
	if got := runScenario(context.Background(), "exec", strings.NewReader(in), &out, &errb); got != 1 {
		t.Fatalf("runScenario(exec failing) = %d, want 1; stderr %q", got, errb.String())
	}
	var res results.Scenario
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("stdout %q: %v, want the result with its error", out.String(), err)
	}
	for _, want := range []string{"scenario exec:", "exit status 3", "the first error", "last line"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("result's error %q, want it to hold %q", res.Error, want)
		}
	}
	if res.Name != "exec" || res.Valid {
		t.Errorf("result = %+v, want exec, not valid", res)
	}
}
