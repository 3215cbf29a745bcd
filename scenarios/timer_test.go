package scenarios

import (
	"context"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

func TestTimerValidate(t *testing.T) {
	ok := func() *TimerParams { return timerDefaults(Quick) }
	tests := []struct {
		name    string
		edit    func(p *TimerParams)
		wantErr string
	}{
		{"quick defaults", func(p *TimerParams) {}, ""},
		{"custom variant", func(p *TimerParams) { p.Variants = []string{"other-250us-loaded"} }, ""},
		{"zero duration", func(p *TimerParams) { p.Duration = 0 }, "duration"},
		{"negative duration", func(p *TimerParams) { p.Duration = -time.Second }, "duration"},
		{"priority 0", func(p *TimerParams) { p.Priority = 0 }, "priority"},
		{"priority 100", func(p *TimerParams) { p.Priority = 100 }, "priority"},
		{"no variants", func(p *TimerParams) { p.Variants = nil }, "variants"},
		{"unknown policy", func(p *TimerParams) { p.Variants = []string{"rr-1ms"} }, "unknown policy"},
		{"interval too short", func(p *TimerParams) { p.Variants = []string{"fifo-5us"} }, "below"},
		{"bad interval", func(p *TimerParams) { p.Variants = []string{"fifo-fast"} }, "interval"},
		{"bad suffix", func(p *TimerParams) { p.Variants = []string{"fifo-1ms-busy"} }, "want POLICY"},
		{"duplicate", func(p *TimerParams) { p.Variants = []string{"fifo-1ms", "fifo-1ms"} }, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok()
			tt.edit(p)
			err := p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%+v) = %v, want an error containing %q", p, err, tt.wantErr)
			}
		})
	}
}

func TestTimerDefaults(t *testing.T) {
	for _, tt := range []struct {
		profile string
		want    time.Duration
	}{{Quick, time.Second}, {Full, time.Minute}} {
		if got := timerDefaults(tt.profile).Duration; got != tt.want {
			t.Errorf("timerDefaults(%q).Duration = %v, want %v", tt.profile, got, tt.want)
		}
	}
}

// TestTimerRun measures for real on the host: it needs root for SCHED_FIFO
// and mlockall.
func TestTimerRun(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for about a second")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for SCHED_FIFO and mlockall")
	}
	spec, err := Lookup("timer")
	if err != nil {
		t.Fatal(err)
	}
	const dur = 200 * time.Millisecond
	p := &TimerParams{Duration: dur, Priority: 50, Variants: []string{"fifo-1ms", "fifo-100us", "other-1ms", "fifo-1ms-loaded"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	cpus := runtime.NumCPU()
	res, err := spec.Run(context.Background(), Env{CPUs: cpus, Logf: t.Logf}, p)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if !res.Valid {
		t.Fatalf("Run: invalid: %s", res.Invalid)
	}
	metrics := map[string]results.Metric{}
	for _, m := range res.Metrics {
		metrics[m.Name] = m
	}
	for _, s := range p.Variants {
		v, _ := parseTimerVariant(s)
		want := float64(cpus) * float64(dur/v.interval)
		samples, ok := metrics[s+".samples"]
		if !ok {
			t.Fatalf("no metric %s.samples in %v", s, res.Metrics)
		}
		missed := metrics[s+".missed"].Value
		// Every period is a sample or a missed period (the last may fall past the end).
		if got := samples.Value + missed; got < want*0.97 || got > want*1.01 {
			t.Errorf("%s: samples %v + missed %v = %v, want about %v", s, samples.Value, missed, got, want)
		}
		// A busy host makes a thread miss periods (counted above); it still
		// wakes up now and then.
		if samples.Value < want*0.05 {
			t.Errorf("%s: samples = %v, want at least 5%% of %v", s, samples.Value, want)
		}
		if p50 := metrics[s+".latency.p50"]; p50.Value <= 0 || p50.Samples != int64(samples.Value) {
			t.Errorf("%s.latency.p50 = %+v, want > 0 over %v samples", s, p50, samples.Value)
		}
		if mx := metrics[s+".latency.max"].Value; mx < metrics[s+".latency.p50"].Value {
			t.Errorf("%s: max %v < p50 %v", s, mx, metrics[s+".latency.p50"].Value)
		}
	}
	if got, want := len(res.Histograms), 2*len(p.Variants); got != want {
		t.Fatalf("len(Histograms) = %d, want %d", got, want)
	}
	for _, h := range res.Histograms {
		if !strings.HasPrefix(h.Encoded, "HISTF") {
			t.Errorf("histogram %s encoded as %.10q, want HISTF...", h.Name, h.Encoded)
		}
	}
}

// TestTimerInvalid checks that a broken condition turns into Valid=false
// with the reason, not an error and not a silently wrong measurement.
func TestTimerInvalid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mlockall")
	}
	tests := []struct {
		name   string
		p      *TimerParams
		during func()
		want   string
	}{
		// Priority 0 is not a SCHED_FIFO priority: the kernel refuses it as it
		// would refuse SCHED_FIFO to an unprivileged process.
		{"fifo refused", &TimerParams{Duration: 50 * time.Millisecond, Priority: 0, Variants: []string{"fifo-1ms"}}, nil, "SCHED_FIFO"},
		// A collection can no longer land inside the window: its
		// stop-the-world waits for the window's nosplit loops to end
		// (measure's TestLoopHoldsOffGC). The check stays, for collections
		// between the counts and the loops.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			defer wg.Wait() // no collection may outlive the subtest
			defer close(stop)
			if tt.during != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
							tt.during()
						}
					}
				}()
			}
			res, err := runTimer(context.Background(), Env{CPUs: 1}, tt.p, &results.Scenario{Name: "timer", Valid: true})
			if err != nil {
				t.Fatalf("runTimer = %v, want an invalid result", err)
			}
			if res.Valid || !strings.Contains(res.Invalid, tt.want) {
				t.Errorf("runTimer: Valid %v, Invalid %q, want invalid mentioning %q", res.Valid, res.Invalid, tt.want)
			}
			if len(res.Metrics) != 0 {
				t.Errorf("runTimer: %d metrics from an invalid window, want none", len(res.Metrics))
			}
		})
	}
}
