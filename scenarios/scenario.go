// Package scenarios owns the measurements that run inside the guest: their
// parameters (with documented defaults per profile), their metric names,
// units and directions. It knows nothing of QEMU or the host.
package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// Profiles.
const (
	Quick = "quick" // seconds per scenario: CI
	Full  = "full"  // minutes per scenario: a real comparison
)

// Env is what a scenario learns about the guest it runs in.
type Env struct {
	CPUs int   // online CPUs
	Seed int64 // from the plan; use it for anything random
	// Logf writes a line to the agent log (kept with the boot's results).
	Logf func(format string, args ...any)
	// Boot is the boot the scenario runs in (zero outside a run's guest,
	// as on bare metal).
	Boot wire.BootID
}

// Validator is implemented by parameter structs that check their values.
type Validator interface {
	Validate() error
}

// Spec describes a scenario.
type Spec struct {
	Name     string // stable, e.g. "timer"
	Measures string // one line: what it measures
	Catches  string // one line: which kernel change it would catch
	// OnRequest scenarios run only when a matrix names them: they need
	// parameters only the user can give (exec's program).
	OnRequest bool
	// TCP scenarios measure the TCP stack: a trace of one records the TCP
	// events beside the scheduler's.
	TCP bool
	// Defaults returns a pointer to a new parameter struct filled for the
	// profile. The struct's fields carry `yaml:"x" json:"x"` tags with the same
	// names and a `doc:"..."` tag; it may implement Validator.
	Defaults func(profile string) any
	// Run measures in the current process (a child of the agent, one per
	// scenario) with params as returned by Defaults after the matrix's
	// overrides. A scenario that cannot hold its conditions returns a result
	// with Valid false and the reason, not an error; an error is a failure.
	Run func(ctx context.Context, env Env, params any) (*results.Scenario, error)

	needs func(params any) []string
}

var registry = map[string]Spec{}

// def is a scenario with parameters of type P, as this package defines it.
type def[P any] struct {
	Name, Measures, Catches string
	OnRequest, TCP          bool
	Defaults                func(profile string) *P
	// Run measures with parameters of the right type, validated, into r:
	// the result started with the scenario's name and parameters.
	Run func(ctx context.Context, env Env, p *P, r *results.Scenario) (*results.Scenario, error)
	// Needs, when set, says what the parameters need of the machine (see
	// NeedFIFO, NeedSysctl).
	Needs func(p *P) []string
}

// register adds a scenario; called from init functions of this package.
func register[P any](d def[P]) {
	if _, dup := registry[d.Name]; dup {
		panic("scenarios: duplicate " + d.Name)
	}
	registry[d.Name] = Spec{
		Name: d.Name, Measures: d.Measures, Catches: d.Catches, OnRequest: d.OnRequest, TCP: d.TCP,
		Defaults: func(profile string) any { return d.Defaults(profile) },
		needs: func(params any) []string {
			p, ok := params.(*P)
			if d.Needs == nil || !ok {
				return nil
			}
			return d.Needs(p)
		},
		Run: func(ctx context.Context, env Env, params any) (*results.Scenario, error) {
			p, err := paramsOf[P](d.Name, params)
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(p)
			if err != nil {
				return nil, fmt.Errorf("%s params: %w", d.Name, err)
			}
			return d.Run(ctx, env, p, &results.Scenario{Name: d.Name, Params: b, Valid: true})
		},
	}
}

// paramsOf checks that params are a scenario's: of its type, and valid.
func paramsOf[P any](name string, params any) (*P, error) {
	p, ok := params.(*P)
	if !ok || p == nil {
		return nil, fmt.Errorf("%s: params of type %T, want %T", name, params, (*P)(nil))
	}
	if v, ok := any(p).(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return p, nil
}

// Decode gives the scenario its parameters as the guest receives them:
// the profile's defaults with raw's values over them (JSON; an unknown
// field is an error), validated.
func (s Spec) Decode(profile string, raw json.RawMessage) (any, error) {
	params := s.Defaults(profile)
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(params); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
	}
	if v, ok := params.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
	}
	return params, nil
}

// Lookup returns the scenario called name.
func Lookup(name string) (Spec, error) {
	s, ok := registry[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown scenario %q (known: %v)", name, Names())
	}
	return s, nil
}

// Names lists the scenarios, sorted.
func Names() []string {
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// All returns every scenario, sorted by name.
func All() []Spec {
	var out []Spec
	for _, n := range Names() {
		out = append(out, registry[n])
	}
	return out
}
