package scenarios

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// TCPCRRParams are the parameters of tcp-crr.
type TCPCRRParams = TCPExchangeParams

func init() {
	register(def[TCPCRRParams]{
		Name:     "tcp-crr",
		TCP:      true,
		Measures: "connect, one 64-byte request/response, close on loopback TCP: latency per transaction, transactions/s",
		Catches:  "connection setup and teardown path cost (accept queue, SYN handling, socket allocation)",
		Defaults: func(profile string) *TCPCRRParams {
			if profile == Full {
				return &TCPCRRParams{Duration: 20 * time.Second, Warmup: 1000, Size: 64}
			}
			return &TCPCRRParams{Duration: time.Second, Warmup: 20, Size: 64}
		},
		Run: runTCPCRR,
	})
}

func runTCPCRR(ctx context.Context, env Env, p *TCPCRRParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	if err := measure.Prepare(); err != nil {
		return nil, err
	}
	h := measure.NewHist()
	lfd, port, err := measure.Listen(128)
	if err != nil {
		return nil, err
	}
	defer unix.Close(lfd)
	ccpu, scpu := tcpCPUs(env)

	var served atomic.Int64
	server := tcpThread(scpu, func() error {
		buf := make([]byte, p.Size)
		for {
			fd, done, err := tcpAccept(lfd)
			if done || err != nil {
				return err
			}
			err = measure.ReadFull(fd, buf)
			if err == nil {
				err = measure.WriteAll(fd, buf)
			}
			if err == nil {
				// Wait for the client's close so the server never holds
				// the connection in TIME_WAIT either.
				if err = measure.ReadFull(fd, buf[:1]); err == measure.ErrClosed {
					err = nil
				}
			}
			measure.Close(fd)
			if err != nil {
				return err
			}
			served.Add(1)
		}
	})

	var (
		n, window int64
		gc0       uint64
		nz        measure.Noise
	)
	client := tcpThread(ccpu, func() error {
		buf := make([]byte, p.Size)
		// SO_LINGER 0 closes with a reset: no TIME_WAIT, so a long window
		// never runs out of ephemeral ports.
		setup := func(fd int) error {
			if err := measure.SetNoDelay(fd, true); err != nil {
				return err
			}
			return measure.SetLingerZero(fd)
		}
		txn := func() error {
			fd, err := measure.Dial(port, setup)
			if err != nil {
				return err
			}
			err = tcpRoundTrip(fd, buf)
			measure.Close(fd)
			return err
		}
		for i := 0; i < p.Warmup; i++ {
			if err := txn(); err != nil {
				return err
			}
		}
		gc0 = measure.GCCycles()
		noise := measure.StartNoise()
		t0 := measure.Now()
		end := t0 + p.Duration.Nanoseconds()
		for now := t0; now < end; {
			if n&255 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if err := txn(); err != nil {
				return err
			}
			t := measure.Now()
			measure.Record(h, t-now)
			now = t
			n++
		}
		window = measure.Now() - t0
		nz = noise.End()
		return nil
	})
	if err := tcpJoin(lfd, client, server); err != nil {
		return nil, fmt.Errorf("tcp-crr: %w", err)
	}
	tcpGCCheck(r, gc0)
	schedNoise(r, "", nz)
	if got, want := served.Load(), n+int64(p.Warmup); got != want {
		r.Valid = false
		r.Invalid = fmt.Sprintf("server completed %d transactions, client %d", got, want)
	}
	r.Metrics = append(r.Metrics, measure.Summarize("latency", h)...)
	r.Metrics = append(r.Metrics, results.Metric{Name: "transactions", Unit: "ops/s", Better: results.HigherIsBetter,
		Value: float64(n) / (float64(window) / 1e9), Samples: n, Timing: true})
	hist, err := measure.Encode("latency", "ns", false, h)
	if err != nil {
		return nil, err
	}
	r.Histograms = append(r.Histograms, hist)
	r.Duration = time.Since(start)
	return r, nil
}
