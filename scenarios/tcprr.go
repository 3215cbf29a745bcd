package scenarios

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// TCPExchangeParams are the parameters of tcp-rr and tcp-crr: a measured
// window of request/response transactions after a warmup.
type TCPExchangeParams struct {
	Duration time.Duration `yaml:"duration" json:"duration" doc:"measured window"`
	Warmup   int           `yaml:"warmup" json:"warmup" doc:"transactions before the window, not recorded"`
	Size     int           `yaml:"size" json:"size" doc:"request and response size in bytes"`
}

// TCPRRParams are the parameters of tcp-rr.
type TCPRRParams struct {
	Duration time.Duration `yaml:"duration" json:"duration" doc:"measured window"`
	Warmup   int           `yaml:"warmup" json:"warmup" doc:"transactions before the window, not recorded"`
	Size     int           `yaml:"size" json:"size" doc:"request and response size in bytes"`
	Server   string        `yaml:"server" json:"server" doc:"where the echo server runs: process (a process of its own, as sockperf's, netperf's and real services' servers do) or thread (a thread of the measuring process: on one CPU a round trip then switches threads, not address spaces)"`
}

// Server placements of tcp-rr.
const (
	ServerProcess = "process"
	ServerThread  = "thread"
)

// Validate checks the parameters.
func (p *TCPRRParams) Validate() error {
	e := TCPExchangeParams{Duration: p.Duration, Warmup: p.Warmup, Size: p.Size}
	if err := e.Validate(); err != nil {
		return err
	}
	if p.Server != ServerProcess && p.Server != ServerThread {
		return fmt.Errorf("server: %q must be %s or %s", p.Server, ServerProcess, ServerThread)
	}
	return nil
}

// Validate checks the parameters.
func (p *TCPExchangeParams) Validate() error {
	switch {
	case p.Duration <= 0:
		return fmt.Errorf("duration: %v must be positive", p.Duration)
	case p.Warmup < 0:
		return fmt.Errorf("warmup: %d must not be negative", p.Warmup)
	case p.Size < 1 || p.Size > 1<<20:
		return fmt.Errorf("size: %d must be in 1..1048576", p.Size)
	}
	return nil
}

func init() {
	register(def[TCPRRParams]{
		Name:     "tcp-rr",
		TCP:      true,
		Measures: "64-byte request/response round trips on loopback TCP with NODELAY on: latency, transactions/s, tcp_info rtt",
		Catches:  "longer TCP/IP stack paths, softirq threading and wakeup changes on the request/response path",
		Defaults: func(profile string) *TCPRRParams {
			if profile == Full {
				return &TCPRRParams{Duration: 20 * time.Second, Warmup: 10000, Size: 64, Server: ServerProcess}
			}
			return &TCPRRParams{Duration: time.Second, Warmup: 100, Size: 64, Server: ServerProcess}
		},
		Run: runTCPRR,
	})
}

func runTCPRR(ctx context.Context, env Env, p *TCPRRParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	if err := measure.Prepare(); err != nil {
		return nil, err
	}
	h := measure.NewHist()
	lfd, port, err := measure.Listen(1)
	if err != nil {
		return nil, err
	}
	defer unix.Close(lfd)
	ccpu, scpu := tcpCPUs(env)

	var server <-chan error
	if p.Server == ServerProcess {
		var stop func()
		if server, stop, err = tcpServeProcess(scpu, lfd, p.Size); err != nil {
			return nil, fmt.Errorf("tcp-rr: %w", err)
		}
		defer stop()
	} else {
		server = tcpEchoThread(scpu, lfd, p.Size)
	}

	var (
		n      int64
		window int64
		rtt    uint32
		gc0    uint64
		nz     measure.Noise
	)
	client := tcpThread(ccpu, func() error {
		fd, err := measure.Dial(port, func(fd int) error { return measure.SetNoDelay(fd, true) })
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		buf := make([]byte, p.Size)
		for i := 0; i < p.Warmup; i++ {
			if err := tcpRoundTrip(fd, buf); err != nil {
				return err
			}
		}
		gc0 = measure.GCCycles()
		// The round trips run in a nosplit loop (measure.RoundTrips) and
		// their times go to a buffer, moved into the histogram between
		// chunks: nothing in the loop lets the runtime hand the thread's P
		// around.
		samples := measure.NewSamples(measure.Chunk)
		restore := measure.Quiet()
		noise := measure.StartNoise()
		t0 := measure.Now()
		end := t0 + p.Duration.Nanoseconds()
		for measure.Now() < end {
			k, err := measure.RoundTrips(fd, buf, samples, end)
			n += int64(k)
			samples.MoveTo(h)
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				restore()
				return err
			}
		}
		window = measure.Now() - t0
		nz = noise.End()
		restore()
		ti, err := measure.TCPInfo(fd)
		if err != nil {
			return err
		}
		rtt = ti.Rtt
		return nil
	})
	if err := tcpJoin(lfd, client, server); err != nil {
		return nil, fmt.Errorf("tcp-rr: %w", err)
	}
	tcpGCCheck(r, gc0)
	schedNoise(r, "", nz)

	r.Metrics = append(r.Metrics, measure.Summarize("rtt", h)...)
	r.Metrics = append(r.Metrics,
		results.Metric{Name: "transactions", Unit: "ops/s", Better: results.HigherIsBetter,
			Value: float64(n) / (float64(window) / 1e9), Samples: n, Timing: true},
		results.Metric{Name: "tcpi_rtt", Unit: "us", Better: results.Info, Value: float64(rtt), Timing: true},
	)
	hist, err := measure.Encode("rtt", "ns", false, h)
	if err != nil {
		return nil, err
	}
	r.Histograms = append(r.Histograms, hist)
	r.Duration = time.Since(start)
	return r, nil
}

// tcpRoundTrip sends buf and reads the same number of bytes back into it.
func tcpRoundTrip(fd int, buf []byte) error {
	if err := measure.WriteAll(fd, buf); err != nil {
		return err
	}
	if err := measure.ReadFull(fd, buf); err != nil {
		return err
	}
	return nil
}

// tcpEchoThread is tcp-rr's server as a thread of this process, pinned to
// cpu: it echoes size-byte messages until the client closes.
func tcpEchoThread(cpu, lfd, size int) <-chan error {
	return tcpServe(cpu, lfd, func(fd int) error {
		if err := tcpEchoConn(fd, size); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	})
}
