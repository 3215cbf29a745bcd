package guest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// fakeRunner answers by scenario name: "slow" blocks until its context ends.
type fakeRunner struct {
	ins []Input
}

func (f *fakeRunner) RunScenario(ctx context.Context, name string, in Input, logf func(string)) results.Scenario {
	f.ins = append(f.ins, in)
	logf("running " + name)
	switch name {
	case "slow":
		<-ctx.Done()
		return results.Scenario{Name: name, Error: "timed out"}
	case "broken":
		return results.Scenario{Name: name, Error: "exit status 2"}
	}
	return results.Scenario{Name: name, Valid: true, Metrics: []results.Metric{{Name: "x.p50", Unit: "ns", Value: 1}}}
}

// host plays the runner's side: it reads Hello, sends plan and collects
// every frame up to Done.
func host(t *testing.T, conn net.Conn, plan wire.Plan) (wire.Hello, []wire.Frame, error) {
	t.Helper()
	r := wire.NewReader(conn)
	f, err := r.Next()
	if err != nil {
		return wire.Hello{}, nil, err
	}
	var hello wire.Hello
	if f.Type != wire.TypeHello {
		return hello, nil, fmt.Errorf("first frame %s, want hello", f.Type)
	}
	if err := json.Unmarshal(f.Payload, &hello); err != nil {
		return hello, nil, err
	}
	var frames []wire.Frame
	sent := make(chan error, 1)
	go func() { sent <- wire.WriteJSON(conn, wire.TypePlan, plan) }()
	for {
		f, err := r.Next()
		if err != nil {
			return hello, frames, err
		}
		frames = append(frames, f)
		if f.Type == wire.TypeDone {
			return hello, frames, <-sent
		}
	}
}

func TestAgentServe(t *testing.T) {
	tests := []struct {
		name      string
		plan      wire.Plan
		sysctlErr error
		// want is the frame sequence after Hello: types, and for results the name.
		want     []string
		wantErr  bool
		wantSets []string
	}{
		{
			name: "two scenarios",
			plan: wire.Plan{Seed: 7, Profile: "quick", Sysctl: map[string]string{"net.ipv4.tcp_slow_start_after_idle": "0", "kernel.a": "1"},
				Scenarios: []wire.Invocation{{Name: "timer", Params: json.RawMessage(`{"priority":90}`)}, {Name: "pipe"}}},
			want:     []string{"log:boot line", "facts", "log:timer: running timer", "result:timer", "log:pipe: running pipe", "result:pipe", "facts", "done"},
			wantSets: []string{"kernel.a=1", "net.ipv4.tcp_slow_start_after_idle=0"},
		},
		{
			name: "timeout and crash continue",
			plan: wire.Plan{Profile: "quick", Timeout: int64(50 * time.Millisecond),
				Scenarios: []wire.Invocation{{Name: "slow"}, {Name: "broken"}, {Name: "timer"}}},
			want: []string{"log:boot line", "facts", "log:slow: running slow", "result:slow", "log:broken: running broken", "result:broken",
				"log:timer: running timer", "result:timer", "facts", "done"},
		},
		{
			name:      "sysctl refused",
			plan:      wire.Plan{Sysctl: map[string]string{"net.ipv4.nope": "1"}, Scenarios: []wire.Invocation{{Name: "timer"}}},
			sysctlErr: errors.New("no such file"),
			want:      []string{"log:boot line", "error:plan: sysctl net.ipv4.nope=1: no such file", "done"},
			wantErr:   true,
		},
		{
			name: "empty plan",
			plan: wire.Plan{},
			want: []string{"log:boot line", "facts", "facts", "done"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guestEnd, hostEnd := net.Pipe()
			defer guestEnd.Close()
			defer hostEnd.Close()
			fr := &fakeRunner{}
			var sets []string
			a := &Agent{
				Version: "v1", Release: "6.12.0-test", CPUs: 2, Runner: fr,
				Facts:  func() map[string]string { return map[string]string{"steal_before_ticks": "5", "clocksource": "tsc"} },
				After:  func() map[string]string { return map[string]string{"steal_after_ticks": "9"} },
				Sysctl: func(k, v string) error { sets = append(sets, k+"="+v); return tt.sysctlErr },
				Logs:   []string{"boot line"},
			}
			served := make(chan error, 1)
			go func() { served <- a.Serve(context.Background(), guestEnd) }()
			hello, frames, herr := host(t, hostEnd, tt.plan)
			err := <-served
			if herr != nil {
				t.Fatalf("host: %v", herr)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Serve() = %v, want error %v", err, tt.wantErr)
			}
			if want := (wire.Hello{Version: "v1", Release: "6.12.0-test", CPUs: 2}); hello != want {
				t.Errorf("hello = %+v, want %+v", hello, want)
			}
			var got []string
			var res []results.Scenario
			var facts []map[string]string
			for _, f := range frames {
				switch f.Type {
				case wire.TypeLog, wire.TypeError:
					got = append(got, f.Type.String()+":"+string(f.Payload))
				case wire.TypeResult:
					var s results.Scenario
					if err := json.Unmarshal(f.Payload, &s); err != nil {
						t.Fatalf("result frame: %v", err)
					}
					res = append(res, s)
					got = append(got, "result:"+s.Name)
				case wire.TypeFacts:
					var m map[string]string
					if err := json.Unmarshal(f.Payload, &m); err != nil {
						t.Fatalf("facts frame: %v", err)
					}
					facts = append(facts, m)
					got = append(got, "facts")
				default:
					got = append(got, f.Type.String())
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("frames =\n%q\nwant\n%q", got, tt.want)
			}
			if tt.wantSets != nil && !reflect.DeepEqual(sets, tt.wantSets) {
				t.Errorf("sysctls set = %q, want %q", sets, tt.wantSets)
			}
			if len(facts) == 2 {
				want := map[string]string{"steal_before_ticks": "5", "clocksource": "tsc", "steal_after_ticks": "9"}
				if !reflect.DeepEqual(facts[1], want) {
					t.Errorf("final facts = %v, want %v", facts[1], want)
				}
			}
			for i, in := range fr.ins {
				if in.Seed != tt.plan.Seed || in.Profile != tt.plan.Profile || in.CPUs != 2 ||
					string(in.Params) != string(tt.plan.Scenarios[i].Params) {
					t.Errorf("input %d = %+v, want seed %d profile %q cpus 2 params %s", i, in, tt.plan.Seed, tt.plan.Profile, tt.plan.Scenarios[i].Params)
				}
			}
			for _, s := range res {
				if s.Duration <= 0 {
					t.Errorf("result %s: duration %v, want > 0", s.Name, s.Duration)
				}
				if s.Name == "slow" && !strings.Contains(s.Error, "timed out") {
					t.Errorf("result slow: error %q, want a timeout", s.Error)
				}
			}
		})
	}
}

func TestAgentServeCorruptPlan(t *testing.T) {
	guestEnd, hostEnd := net.Pipe()
	defer guestEnd.Close()
	defer hostEnd.Close()
	a := &Agent{Runner: &fakeRunner{}}
	served := make(chan error, 1)
	go func() { served <- a.Serve(context.Background(), guestEnd) }()
	r := wire.NewReader(hostEnd)
	if f, err := r.Next(); err != nil || f.Type != wire.TypeHello {
		t.Fatalf("first frame = %v, %v, want hello", f.Type, err)
	}
	go wire.Write(hostEnd, wire.Frame{Type: wire.TypePlan, Payload: []byte("{not json")})
	var types []wire.Type
	for {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("Next() = %v after %v", err, types)
		}
		types = append(types, f.Type)
		if f.Type == wire.TypeDone {
			break
		}
	}
	if want := []wire.Type{wire.TypeError, wire.TypeDone}; !reflect.DeepEqual(types, want) {
		t.Errorf("frames = %v, want %v", types, want)
	}
	var pe *PlanError
	if err := <-served; !errors.As(err, &pe) {
		t.Errorf("Serve() = %v, want a *PlanError", err)
	}
}

func FuzzReadPlan(f *testing.F) {
	good := wire.Append(nil, wire.Frame{Type: wire.TypePlan, Payload: []byte(`{"seed":1,"profile":"quick","scenarios":[{"name":"timer","params":{"priority":90}}]}`)})
	f.Add(good)
	f.Add(append(wire.Append(nil, wire.Frame{Type: wire.TypeLog, Payload: []byte("x")}), good...))
	f.Add([]byte("KV\x02\x00\x00\x00\x00\x02{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		plan, err := readPlan(wire.NewReader(bytes.NewReader(b)))
		if err != nil {
			var pe *PlanError
			if !errors.As(err, &pe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("readPlan = %v, want a *PlanError or an end of stream", err)
			}
			return
		}
		if _, err := json.Marshal(plan); err != nil {
			t.Errorf("plan does not marshal back: %v", err)
		}
	})
}
