// Package guest is kvet running inside the guest: as PID 1 it mounts what it
// needs, loads modules, opens the results port, receives the plan, runs each
// scenario in a child process, sends framed results and powers off. It
// measures nothing itself.
package guest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// Input is what the agent writes on a scenario child's standard input.
type Input struct {
	Profile string          `json:"profile"`
	Params  json.RawMessage `json:"params,omitempty"`
	CPUs    int             `json:"cpus"`
	Seed    int64           `json:"seed"`
	// Boot is the plan's boot (nil when the host did not say).
	Boot *wire.BootID `json:"boot,omitempty"`
}

// Runner runs one scenario and always returns a result: a failure, crash or
// timeout is a result with Error set. ctx carries the plan's per-scenario
// timeout; logf sends one line to the boot's log.
type Runner interface {
	RunScenario(ctx context.Context, name string, in Input, logf func(string)) results.Scenario
}

// Agent is the protocol half of the guest agent: Hello, Plan, sysctls, facts,
// one result per scenario, Done. It does no PID 1 work, so it runs on the host
// over a pipe in tests.
type Agent struct {
	Version string
	Release string
	CPUs    int
	Runner  Runner
	// Facts returns the kernel facts sent before the scenarios; nil sends none.
	Facts func() map[string]string
	// After returns the facts taken after the scenarios (steal time); they are
	// sent merged over the first facts in a final Facts frame.
	After func() map[string]string
	// Sysctl sets one sysctl ("net.ipv4.tcp_slow_start_after_idle", "0").
	Sysctl func(name, value string) error
	// Logs are lines gathered before the port opened (module loading, ...),
	// sent as Log frames right after Hello.
	Logs []string
	// Progress, when set, announces each scenario as it starts and ends (on
	// the console, so that a hung boot's console tail says where it hung).
	Progress func(format string, args ...any)
	// Tracer traces each scenario when the plan asks for it (Plan.Trace);
	// the trace is sent in a Trace frame before the scenario's result. nil
	// sends a trace that says it could not be taken.
	Tracer Tracer
}

// port serialises frame writes: log lines come from a scenario's stderr
// reader while the main flow writes results.
type port struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *port) send(t wire.Type, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return wire.Write(p.w, wire.Frame{Type: t, Payload: payload})
}

func (p *port) sendJSON(t wire.Type, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("frame %s: %w", t, err)
	}
	return p.send(t, b)
}

// PlanError is a fault in the plan the host sent (a sysctl that cannot be
// set, an unreadable plan): reported in an Error frame, then Done.
type PlanError struct{ Err error }

func (e *PlanError) Error() string { return "plan: " + e.Err.Error() }
func (e *PlanError) Unwrap() error { return e.Err }

// Serve talks to the host over rw until Done is sent. An error means the port
// failed; a bad plan is reported to the host (Error then Done) and returned
// as a *PlanError.
func (a *Agent) Serve(ctx context.Context, rw io.ReadWriter) error {
	p := &port{w: rw}
	if err := p.sendJSON(wire.TypeHello, wire.Hello{Version: a.Version, Release: a.Release, CPUs: a.CPUs}); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	for _, l := range a.Logs {
		if err := p.send(wire.TypeLog, []byte(l)); err != nil {
			return fmt.Errorf("log: %w", err)
		}
	}
	plan, err := readPlan(wire.NewReader(rw))
	if err != nil {
		var pe *PlanError
		if errors.As(err, &pe) {
			return a.fail(p, err)
		}
		return err
	}
	if err := a.applySysctl(plan.Sysctl); err != nil {
		return a.fail(p, err)
	}
	var facts map[string]string
	if a.Facts != nil {
		facts = a.Facts()
		if err := p.sendJSON(wire.TypeFacts, facts); err != nil {
			return fmt.Errorf("facts: %w", err)
		}
	}
	for _, inv := range plan.Scenarios {
		res, trace := a.run(ctx, p, plan, inv)
		if trace != nil {
			b, err := wire.EncodeTrace(*trace)
			if err == nil {
				err = p.send(wire.TypeTrace, b)
			}
			if err != nil {
				return fmt.Errorf("trace %s: %w", trace.Scenario, err)
			}
		}
		if err := p.sendJSON(wire.TypeResult, res); err != nil {
			return fmt.Errorf("result %s: %w", inv.Name, err)
		}
	}
	if a.After != nil {
		all := map[string]string{}
		for k, v := range facts {
			all[k] = v
		}
		for k, v := range a.After() {
			all[k] = v
		}
		if err := p.sendJSON(wire.TypeFacts, all); err != nil {
			return fmt.Errorf("facts: %w", err)
		}
	}
	if err := p.send(wire.TypeDone, nil); err != nil {
		return fmt.Errorf("done: %w", err)
	}
	return nil
}

// fail reports a plan error to the host and ends the exchange.
func (a *Agent) fail(p *port, err error) error {
	if werr := p.send(wire.TypeError, []byte(err.Error())); werr != nil {
		return errors.Join(err, werr)
	}
	if werr := p.send(wire.TypeDone, nil); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func readPlan(r *wire.Reader) (wire.Plan, error) {
	for {
		f, err := r.Next()
		if err != nil {
			if errors.Is(err, wire.ErrCorrupt) {
				return wire.Plan{}, &PlanError{err}
			}
			return wire.Plan{}, fmt.Errorf("read plan: %w", err)
		}
		if f.Type != wire.TypePlan {
			// Only a plan is expected; anything else is not worth failing over.
			continue
		}
		var plan wire.Plan
		if err := json.Unmarshal(f.Payload, &plan); err != nil {
			return wire.Plan{}, &PlanError{fmt.Errorf("decode: %w", err)}
		}
		return plan, nil
	}
}

func (a *Agent) applySysctl(m map[string]string) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if a.Sysctl == nil {
			return &PlanError{fmt.Errorf("sysctl %s: cannot set sysctls here", k)}
		}
		if err := a.Sysctl(k, m[k]); err != nil {
			return &PlanError{fmt.Errorf("sysctl %s=%s: %w", k, m[k], err)}
		}
	}
	return nil
}

// run runs one scenario, and traces it when the plan asks (the trace is
// nil otherwise).
func (a *Agent) run(ctx context.Context, p *port, plan wire.Plan, inv wire.Invocation) (results.Scenario, *wire.Trace) {
	if plan.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(plan.Timeout))
		defer cancel()
	}
	in := Input{Profile: plan.Profile, Params: inv.Params, CPUs: a.CPUs, Seed: plan.Seed, Boot: plan.Boot}
	logf := func(line string) {
		// A lost log line is not worth failing the boot over; the result
		// frame that follows reports a broken port.
		_ = p.send(wire.TypeLog, []byte(inv.Name+": "+strings.TrimRight(line, "\n")))
	}
	name := inv.Name
	if inv.Label != "" {
		name = inv.Label
	}
	var trace *wire.Trace
	if plan.Trace {
		trace = a.startTrace(name, inv.Name, plan.TraceBuffer(), logf)
	}
	start := time.Now()
	if a.Progress != nil {
		a.Progress("kvet: scenario %s: started", inv.Name)
	}
	res := a.Runner.RunScenario(ctx, inv.Name, in, logf)
	if a.Progress != nil {
		a.Progress("kvet: scenario %s: ended in %s (valid %t%s)", inv.Name, time.Since(start).Round(time.Millisecond), res.Valid, errSuffix(res.Error))
	}
	if trace != nil {
		trace = a.stopTrace(trace, logf)
	}
	if res.Name == "" {
		res.Name = inv.Name
	}
	if inv.Label != "" {
		res.Name = inv.Label
	}
	if res.Params == nil {
		res.Params = inv.Params
	}
	if res.Duration == 0 {
		res.Duration = time.Since(start)
	}
	return res, trace
}

// startTrace starts tracing the scenario kind, whose result is called name;
// the trace it returns holds only an error when tracing did not start.
func (a *Agent) startTrace(name, kind string, bufferKB int, logf func(string)) *wire.Trace {
	tr := &wire.Trace{TraceInfo: wire.TraceInfo{Scenario: name, BufferKB: bufferKB}}
	if a.Tracer == nil {
		tr.Error = "this guest cannot trace"
		return tr
	}
	if err := a.Tracer.Start(name, TraceEvents(kind), bufferKB); err != nil {
		tr.Error = err.Error()
		logf("trace: not taken: " + err.Error())
	}
	return tr
}

// stopTrace ends the trace started for tr.
func (a *Agent) stopTrace(tr *wire.Trace, logf func(string)) *wire.Trace {
	if tr.Error != "" {
		return tr
	}
	got := a.Tracer.Stop()
	got.Scenario = tr.Scenario
	if len(got.Missing) > 0 {
		logf("trace: events this kernel lacks: " + strings.Join(got.Missing, ", "))
	}
	switch {
	case got.Error != "":
		logf("trace: " + got.Error)
	case got.Truncated:
		logf(fmt.Sprintf("trace: cut at %d bytes, %d events kept", got.Bytes, got.Events))
	}
	return &got
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ", error: " + e
}
