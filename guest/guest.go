package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios"
)

// ScenarioMain runs one scenario in a child process of the agent
// (`/init scenario-child NAME`): an Input (JSON) on stdin, a results.Scenario
// (JSON) on stdout, log lines on stderr. It returns the process exit code:
// 0 for any result, valid or not; non-zero only when the scenario failed
// (its result then carries the whole error, when it got that far).
func ScenarioMain(name string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	return runScenario(ctx, name, os.Stdin, os.Stdout, os.Stderr)
}

func runScenario(ctx context.Context, name string, stdin io.Reader, stdout, stderr io.Writer) int {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	spec, err := scenarios.Lookup(name)
	if err != nil {
		logf("%v", err)
		return 2
	}
	var in Input
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		logf("scenario %s: input: %v", name, err)
		return 2
	}
	if in.Profile == "" {
		in.Profile = scenarios.Quick
	}
	params, err := spec.Decode(in.Profile, in.Params)
	if err != nil {
		logf("scenario %s: %v", name, err)
		return 2
	}
	cpus := in.CPUs
	if cpus <= 0 {
		cpus = runtime.NumCPU()
	}
	// Locked measuring threads each hold a P while running Go code; keep
	// spare Ps so a thread back from a sleep never waits for one.
	if want := 2*cpus + 4; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	env := scenarios.Env{CPUs: cpus, Seed: in.Seed, Logf: logf}
	if in.Boot != nil {
		env.Boot = *in.Boot
	}
	start := time.Now()
	res, err := spec.Run(ctx, env, params)
	if err != nil {
		// The whole error goes back as the result: it may run over several
		// lines (a program's output, head and tail), and the parent keeps
		// only the last line of stderr.
		logf("scenario %s: %v", name, err)
		if b, jerr := json.Marshal(results.Scenario{Name: name, Params: in.Params, Error: fmt.Sprintf("scenario %s: %v", name, err)}); jerr == nil {
			stdout.Write(append(b, '\n'))
		}
		return 1
	}
	if res == nil {
		logf("scenario %s: no result", name)
		return 1
	}
	res.Duration = time.Since(start)
	res.Name = name
	if b, err := json.Marshal(params); err == nil {
		res.Params = b
	}
	b, err := json.Marshal(res)
	if err != nil {
		logf("scenario %s: result: %v", name, err)
		return 1
	}
	if _, err := stdout.Write(append(b, '\n')); err != nil {
		logf("scenario %s: write result: %v", name, err)
		return 1
	}
	return 0
}

// ChildVerb is the first argument of a scenario's child process
// (`/init scenario-child NAME`); main dispatches on it.
const ChildVerb = "scenario-child"
