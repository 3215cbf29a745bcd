package scenarios

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// Nagle variants: how the client and the server set their sockets.
const (
	NagleOff           = "nodelay-off"    // client NODELAY off: Nagle holds the second write
	NagleOn            = "nodelay-on"     // client NODELAY on: both writes leave at once
	NagleQuickAck      = "quickack"       // NODELAY off, server sets TCP_QUICKACK before each read
	NagleQuickAckAfter = "quickack-after" // NODELAY off, server sets TCP_QUICKACK after the read
)

var nagleVariants = []string{NagleOff, NagleOn, NagleQuickAck, NagleQuickAckAfter}

// NagleParams are the parameters of nagle.
type NagleParams struct {
	Variants  []string      `yaml:"variants" json:"variants" doc:"variants to run: nodelay-off, nodelay-on, quickack, quickack-after (all four)"`
	Exchanges int           `yaml:"exchanges" json:"exchanges" doc:"write-write-read exchanges per variant; a stall costs ~40 ms (quick 20, full 200)"`
	Warmup    int           `yaml:"warmup" json:"warmup" doc:"exchanges before the recorded ones: a new connection starts in quick-ACK mode (2)"`
	First     int           `yaml:"first" json:"first" doc:"bytes of the first write (16)"`
	Second    int           `yaml:"second" json:"second" doc:"bytes of the second write (48)"`
	Stall     time.Duration `yaml:"stall" json:"stall" doc:"an exchange longer than this is stalled (30ms)"`
}

// Validate checks the parameters.
func (p *NagleParams) Validate() error {
	if len(p.Variants) == 0 {
		return fmt.Errorf("variants: none given (known: %v)", nagleVariants)
	}
	for i, v := range p.Variants {
		if !slices.Contains(nagleVariants, v) {
			return fmt.Errorf("variants: unknown variant %q (known: %v)", v, nagleVariants)
		}
		if slices.Contains(p.Variants[:i], v) {
			return fmt.Errorf("variants: %q given twice", v)
		}
	}
	switch {
	case p.Exchanges < 1:
		return fmt.Errorf("exchanges: %d must be at least 1", p.Exchanges)
	case p.Warmup < 0:
		return fmt.Errorf("warmup: %d must not be negative", p.Warmup)
	case p.First < 1 || p.First > 1<<16:
		return fmt.Errorf("first: %d must be in 1..65536", p.First)
	case p.Second < 1 || p.Second > 1<<16:
		return fmt.Errorf("second: %d must be in 1..65536", p.Second)
	case p.Stall <= 0:
		return fmt.Errorf("stall: %v must be positive", p.Stall)
	}
	return nil
}

func init() {
	register(def[NagleParams]{
		Name:     "nagle",
		TCP:      true,
		Measures: "write-write-read exchanges on loopback with NODELAY off/on and QUICKACK before/after the read: fraction stalled > 30 ms, median",
		Catches:  "changes to delayed-ACK and Nagle heuristics (the 40 ms stall shows as ~44 ms at HZ=250)",
		Defaults: func(profile string) *NagleParams {
			p := &NagleParams{Variants: slices.Clone(nagleVariants), Exchanges: 20, Warmup: 2, First: 16, Second: 48, Stall: 30 * time.Millisecond}
			if profile == Full {
				p.Exchanges = 200
			}
			return p
		},
		Run: runNagle,
	})
}

func runNagle(ctx context.Context, env Env, p *NagleParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	if err := measure.Prepare(); err != nil {
		return nil, err
	}
	gc0 := measure.GCCycles()
	for _, v := range p.Variants {
		times, err := nagleVariant(ctx, env, p, v)
		if err != nil {
			return nil, fmt.Errorf("nagle %s: %w", v, err)
		}
		h := measure.NewHist()
		stalled := 0
		for _, d := range times {
			measure.Record(h, d)
			if d > p.Stall.Nanoseconds() {
				stalled++
			}
		}
		n := int64(len(times))
		r.Metrics = append(r.Metrics,
			// Stalls are a kernel behaviour (timer-driven ACKs), meaningful
			// under any accelerator: not Timing.
			results.Metric{Name: v + ".stalled", Unit: "ratio", Better: results.LowerIsBetter,
				Value: float64(stalled) / float64(n), Samples: n, Fraction: true, Primary: true},
			results.Metric{Name: v + ".p50", Unit: "ns", Better: results.LowerIsBetter,
				Value: float64(h.ValueAtQuantile(50)), Samples: n, Quantile: 50, Timing: true, Primary: true},
			results.Metric{Name: v + ".max", Unit: "ns", Better: results.Info,
				Value: float64(h.Max()), Samples: n, Quantile: 100, Timing: true},
			results.Metric{Name: v + ".exchanges", Unit: "count", Better: results.Info, Value: float64(n)},
		)
		hist, err := measure.Encode(v, "ns", false, h)
		if err != nil {
			return nil, err
		}
		r.Histograms = append(r.Histograms, hist)
	}
	tcpGCCheck(r, gc0)
	r.Duration = time.Since(start)
	return r, nil
}

// nagleVariant runs one variant on a fresh connection and returns each
// exchange's duration in ns.
func nagleVariant(ctx context.Context, env Env, p *NagleParams, variant string) ([]int64, error) {
	lfd, port, err := measure.Listen(1)
	if err != nil {
		return nil, err
	}
	defer unix.Close(lfd)
	ccpu, scpu := tcpCPUs(env)
	reply := p.First + p.Second

	server := tcpServe(scpu, lfd, func(fd int) error {
		// The server's own NODELAY does not matter (it writes once per
		// exchange) but is pinned so only the variant differs.
		if err := measure.SetNoDelay(fd, true); err != nil {
			return err
		}
		buf := make([]byte, reply)
		for {
			if variant == NagleQuickAck {
				if err := measure.SetQuickAck(fd); err != nil {
					return err
				}
			}
			if err := measure.ReadFull(fd, buf); err == measure.ErrClosed {
				return nil
			} else if err != nil {
				return err
			}
			if variant == NagleQuickAckAfter {
				if err := measure.SetQuickAck(fd); err != nil {
					return err
				}
			}
			if err := measure.WriteAll(fd, buf); err != nil {
				return err
			}
		}
	})

	times := make([]int64, 0, p.Exchanges)
	client := tcpThread(ccpu, func() error {
		fd, err := measure.Dial(port, func(fd int) error { return measure.SetNoDelay(fd, variant == NagleOn) })
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		first, second := make([]byte, p.First), make([]byte, p.Second)
		buf := make([]byte, reply)
		for i := 0; i < p.Warmup+p.Exchanges; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t0 := measure.Now()
			if err := measure.WriteAll(fd, first); err != nil {
				return err
			}
			if err := measure.WriteAll(fd, second); err != nil {
				return err
			}
			if err := measure.ReadFull(fd, buf); err != nil {
				return err
			}
			if i >= p.Warmup {
				times = append(times, measure.Now()-t0)
			}
		}
		return nil
	})
	if err := tcpJoin(lfd, client, server); err != nil {
		return nil, err
	}
	return times, nil
}
