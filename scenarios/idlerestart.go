package scenarios

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

const ssaiSysctl = "net.ipv4.tcp_slow_start_after_idle"

// IdleRestartParams are the parameters of idle-restart.
type IdleRestartParams struct {
	Congestion   []string      `yaml:"congestion" json:"congestion" doc:"congestion controls to pin on the sender, each run in turn; one the kernel lacks is noted and skipped (quick [cubic], full [cubic, bbr])"`
	ToggleSysctl bool          `yaml:"toggle_sysctl" json:"toggle_sysctl" doc:"also run with net.ipv4.tcp_slow_start_after_idle set to 1 and to 0 (restored afterwards), as metrics CC.ssai1.* and CC.ssai0.*; CC.* are always the guest's own setting (true)"`
	Rounds       int           `yaml:"rounds" json:"rounds" doc:"grow-idle-burst rounds per congestion control and sysctl value (quick 1, full 5)"`
	Idle         time.Duration `yaml:"idle" json:"idle" doc:"idle time between growing cwnd and the burst; must exceed the RTO (200 ms minimum on loopback); the scenario idles longer when the connection's RTO needs it for a full restart, see idleFor (1s)"`
	Bulk         int           `yaml:"bulk" json:"bulk" doc:"bytes sent to grow cwnd (8388608)"`
	Burst        int           `yaml:"burst" json:"burst" doc:"bytes of the timed burst after the idle time (1048576)"`
}

var ccName = regexp.MustCompile(`^[a-z0-9_]{1,15}$`)

// Validate checks the parameters.
func (p *IdleRestartParams) Validate() error {
	if len(p.Congestion) == 0 {
		return errors.New("congestion: none given")
	}
	for i, cc := range p.Congestion {
		if !ccName.MatchString(cc) {
			return fmt.Errorf("congestion: %q is not a congestion control name", cc)
		}
		if slices.Contains(p.Congestion[:i], cc) {
			return fmt.Errorf("congestion: %q given twice", cc)
		}
	}
	switch {
	case p.Rounds < 1:
		return fmt.Errorf("rounds: %d must be at least 1", p.Rounds)
	case p.Idle < 250*time.Millisecond:
		return fmt.Errorf("idle: %v must exceed the 200 ms minimum RTO (at least 250ms)", p.Idle)
	case p.Bulk < 1<<20 || p.Bulk > 1<<30:
		return fmt.Errorf("bulk: %d must be in 1 MiB..1 GiB to grow cwnd", p.Bulk)
	case p.Burst < 2 || p.Burst > 1<<30:
		return fmt.Errorf("burst: %d must be in 2..1073741824", p.Burst)
	}
	return nil
}

func init() {
	register(def[IdleRestartParams]{
		Name: "idle-restart",
		TCP:  true,
		Needs: func(p *IdleRestartParams) []string {
			if p.ToggleSysctl {
				return []string{NeedSysctl(ssaiSysctl)}
			}
			return nil
		},
		Measures: "cwnd before and after an idle period longer than the RTO (tcp_info) and the time of the burst after it, per congestion control and tcp_slow_start_after_idle",
		Catches:  "congestion-window restart after idle, default congestion control changes",
		Defaults: func(profile string) *IdleRestartParams {
			p := &IdleRestartParams{Congestion: []string{"cubic"}, ToggleSysctl: true, Rounds: 1,
				Idle: time.Second, Bulk: 8 << 20, Burst: 1 << 20}
			if profile == Full {
				p.Congestion = []string{"cubic", "bbr"}
				p.Rounds = 5
			}
			return p
		},
		Run: runIdleRestart,
	})
}

// idleRound is what one grow-idle-burst round saw.
type idleRound struct {
	before, after uint32 // snd_cwnd in segments
	burst         int64  // ns
	rto           uint32 // the connection's RTO before the idle time, us
	idle          int64  // ns idled
}

// tcpInitCwnd is the kernel's initial window (TCP_INIT_CWND), where a
// restart after idle ends.
const tcpInitCwnd = 10

// idleFor is how long to idle so that a restart after idle can reach the
// initial window: the kernel halves cwnd once per RTO of idle time
// (tcp_cwnd_restart), and a guest whose bulk transfer inflated srtt (TCG,
// a loaded host) has an RTO of several hundred ms, so a fixed second shows
// only a partial restart. At least atLeast, one RTO to spare, at most 10 s
// (beyond that the metrics show a partial restart and the RTO that caused it).
func idleFor(atLeast time.Duration, cwnd, rtoUs uint32) time.Duration {
	rtos := 1
	for c := cwnd; c > tcpInitCwnd; c >>= 1 {
		rtos++
	}
	need := time.Duration(rtos) * time.Duration(rtoUs) * time.Microsecond
	return max(atLeast, min(need, 10*time.Second))
}

func runIdleRestart(ctx context.Context, env Env, p *IdleRestartParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	if err := measure.Prepare(); err != nil {
		return nil, err
	}
	if cc, err := measure.ReadSysctl("net.ipv4.tcp_congestion_control"); err == nil {
		r.Notes = append(r.Notes, "net.ipv4.tcp_congestion_control = "+cc)
	}
	orig, err := measure.ReadSysctl(ssaiSysctl)
	if err != nil {
		return nil, err
	}
	if m, ok := tcpSysctlMetric(ssaiSysctl); ok {
		r.Metrics = append(r.Metrics, m)
	}
	values := []string{orig}
	if p.ToggleSysctl {
		values = []string{"1", "0"}
		defer measure.WriteSysctl(ssaiSysctl, orig)
	}

	gc0 := measure.GCCycles()
	for _, cc := range p.Congestion {
		for _, v := range values {
			if p.ToggleSysctl {
				if err := measure.WriteSysctl(ssaiSysctl, v); err != nil {
					return nil, err
				}
			}
			rounds, err := idleRestartRun(ctx, env, p, cc)
			var unavailable *ccUnavailableError
			if errors.As(err, &unavailable) {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: skipped, the kernel does not offer it (%v)", cc, unavailable.err))
				break
			}
			if err != nil {
				return nil, fmt.Errorf("idle-restart %s ssai=%s: %w", cc, v, err)
			}
			if v == orig {
				// As the guest is configured (the matrix's sysctl): the same
				// names whatever the value, so kernels and variants compare.
				r.Metrics = append(r.Metrics, idleRestartMetrics(cc, rounds)...)
			}
			if p.ToggleSysctl {
				r.Metrics = append(r.Metrics, idleRestartMetrics(cc+".ssai"+v, rounds)...)
			}
			for _, rd := range rounds {
				if rd.before < 20 {
					r.Notes = append(r.Notes, fmt.Sprintf("%s ssai=%s: the bulk grew cwnd only to %d segments; a larger bulk shows the restart more clearly", cc, v, rd.before))
					break
				}
			}
		}
	}
	tcpGCCheck(r, gc0)
	r.Duration = time.Since(start)
	return r, nil
}

func idleRestartMetrics(prefix string, rounds []idleRound) []results.Metric {
	var before, after, ratio, burst, rto, idle []float64
	for _, rd := range rounds {
		rto = append(rto, float64(rd.rto))
		idle = append(idle, float64(rd.idle))
		before = append(before, float64(rd.before))
		after = append(after, float64(rd.after))
		ratio = append(ratio, float64(rd.after)/float64(rd.before))
		burst = append(burst, float64(rd.burst))
	}
	n := int64(len(rounds))
	// cwnd is kernel state, meaningful under any accelerator: not Timing.
	// The ratio is judged (a restart that starts or stops resetting cwnd
	// moves it several-fold); the raw windows are context.
	return []results.Metric{
		{Name: prefix + ".cwnd_before", Unit: "segments", Better: results.Info, Value: tcpMedian(before), Samples: n},
		{Name: prefix + ".cwnd_after", Unit: "segments", Better: results.Info, Value: tcpMedian(after), Samples: n},
		{Name: prefix + ".cwnd_after_ratio", Unit: "ratio", Better: results.HigherIsBetter, Value: tcpMedian(ratio), Samples: n, Primary: true},
		{Name: prefix + ".burst", Unit: "ns", Better: results.LowerIsBetter, Value: tcpMedian(burst), Samples: n, Quantile: 50, Timing: true, Primary: true},
		{Name: prefix + ".rto", Unit: "us", Better: results.Info, Value: tcpMedian(rto), Samples: n, Quantile: 50, Timing: true},
		{Name: prefix + ".idle", Unit: "ns", Better: results.Info, Value: tcpMedian(idle), Samples: n, Quantile: 50, Timing: true},
	}
}

// ccUnavailableError says the kernel refused a congestion control (module
// absent or not allowed): a note, not a failure.
type ccUnavailableError struct{ err error }

func (e *ccUnavailableError) Error() string { return e.err.Error() }

// idleRestartRun runs the rounds on one connection whose sender pins cc.
func idleRestartRun(ctx context.Context, env Env, p *IdleRestartParams, cc string) ([]idleRound, error) {
	lfd, port, err := measure.Listen(1)
	if err != nil {
		return nil, err
	}
	defer unix.Close(lfd)
	ccpu, scpu := tcpCPUs(env)

	// The receiver reads each bulk and each burst whole and answers with
	// one byte, so the sender knows everything was delivered and acked.
	server := tcpServe(scpu, lfd, func(fd int) error {
		buf := make([]byte, 256<<10)
		ack := []byte{1}
		for {
			for _, n := range []int{p.Bulk, p.Burst} {
				if err := idleDrain(fd, buf, n); err == measure.ErrClosed {
					return nil
				} else if err != nil {
					return err
				}
				if err := measure.WriteAll(fd, ack); err != nil {
					return err
				}
			}
		}
	})

	rounds := make([]idleRound, 0, p.Rounds)
	client := tcpThread(ccpu, func() error {
		fd, err := measure.Dial(port, func(fd int) error {
			if err := measure.SetCongestion(fd, cc); err != nil {
				return &ccUnavailableError{err}
			}
			return measure.SetNoDelay(fd, true)
		})
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if got, err := measure.Congestion(fd); err != nil {
			return err
		} else if got != cc {
			return fmt.Errorf("congestion control is %q after pinning %q", got, cc)
		}
		bulk := make([]byte, max(p.Bulk, p.Burst))
		ack := make([]byte, 1)
		for i := 0; i < p.Rounds; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var rd idleRound
			if err := measure.WriteAll(fd, bulk[:p.Bulk]); err != nil {
				return err
			}
			if err := measure.ReadFull(fd, ack); err != nil {
				return err
			}
			ti, err := measure.TCPInfo(fd)
			if err != nil {
				return err
			}
			rd.before, rd.rto = ti.Snd_cwnd, ti.Rto
			idle := idleFor(p.Idle, rd.before, rd.rto)
			rd.idle = idle.Nanoseconds()
			measure.SleepUntil(measure.Now() + rd.idle)
			// The kernel restarts the window when the first data after the
			// idle time is queued, so cwnd is read after a first byte.
			t0 := measure.Now()
			if err := measure.WriteAll(fd, bulk[:1]); err != nil {
				return err
			}
			if ti, err = measure.TCPInfo(fd); err != nil {
				return err
			}
			rd.after = ti.Snd_cwnd
			if err := measure.WriteAll(fd, bulk[1:p.Burst]); err != nil {
				return err
			}
			if err := measure.ReadFull(fd, ack); err != nil {
				return err
			}
			rd.burst = measure.Now() - t0
			rounds = append(rounds, rd)
		}
		return nil
	})
	if err := tcpJoin(lfd, client, server); err != nil {
		var unavailable *ccUnavailableError
		if errors.As(err, &unavailable) {
			return nil, unavailable
		}
		return nil, err
	}
	return rounds, nil
}

// idleDrain reads and discards exactly n bytes.
func idleDrain(fd int, buf []byte, n int) error {
	for first := true; n > 0; first = false {
		b := buf[:min(n, len(buf))]
		if err := measure.ReadFull(fd, b); err != nil {
			if err == measure.ErrClosed && !first {
				return fmt.Errorf("peer closed with %d bytes outstanding", n)
			}
			return err
		}
		n -= len(b)
	}
	return nil
}
