package scenarios

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// SmallMsgsParams are the parameters of small-msgs.
type SmallMsgsParams struct {
	Duration time.Duration `yaml:"duration" json:"duration" doc:"sending window (quick 1s, full 20s)"`
	Size     int           `yaml:"size" json:"size" doc:"message size in bytes, one write each (64)"`
}

// Validate checks the parameters.
func (p *SmallMsgsParams) Validate() error {
	switch {
	case p.Duration <= 0:
		return fmt.Errorf("duration: %v must be positive", p.Duration)
	case p.Size < 1 || p.Size > 1<<16:
		return fmt.Errorf("size: %d must be in 1..65536", p.Size)
	}
	return nil
}

func init() {
	register(def[SmallMsgsParams]{
		Name:     "small-msgs",
		TCP:      true,
		Measures: "a stream of 64-byte writes with NODELAY on over loopback TCP: messages/s, segments per message, bytes per segment",
		Catches:  "changes to send-side batching and autocorking (tcp_autocorking), and per-write stack cost",
		Defaults: func(profile string) *SmallMsgsParams {
			if profile == Full {
				return &SmallMsgsParams{Duration: 20 * time.Second, Size: 64}
			}
			return &SmallMsgsParams{Duration: time.Second, Size: 64}
		},
		Run: runSmallMsgs,
	})
}

func runSmallMsgs(ctx context.Context, env Env, p *SmallMsgsParams, r *results.Scenario) (*results.Scenario, error) {
	start := time.Now()
	if err := measure.Prepare(); err != nil {
		return nil, err
	}
	if m, ok := tcpSysctlMetric("net.ipv4.tcp_autocorking"); ok {
		r.Metrics = append(r.Metrics, m)
	}
	lfd, port, err := measure.Listen(1)
	if err != nil {
		return nil, err
	}
	defer unix.Close(lfd)
	ccpu, scpu := tcpCPUs(env)

	// The receiver drains the stream until the sender's FIN and answers
	// with the byte count, so the sender's window covers delivery of every
	// message and its segment count is final.
	server := tcpServe(scpu, lfd, func(fd int) error {
		buf := make([]byte, 256<<10)
		total, err := measure.Drain(fd, buf)
		if err != nil {
			return err
		}
		return measure.WriteAll(fd, binary.BigEndian.AppendUint64(nil, total))
	})

	var (
		msgs, window int64
		segs         uint32
		received     uint64
		gc0          uint64
		nz           measure.Noise
	)
	client := tcpThread(ccpu, func() error {
		fd, err := measure.Dial(port, func(fd int) error { return measure.SetNoDelay(fd, true) })
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		msg := make([]byte, p.Size)
		ti, err := measure.TCPInfo(fd)
		if err != nil {
			return err
		}
		segs0 := ti.Segs_out
		gc0 = measure.GCCycles()
		noise := measure.StartNoise()
		t0 := measure.Now()
		end := t0 + p.Duration.Nanoseconds()
		// The loop is nosplit (measure.Stream): the sender never hands its
		// P around, and while no P is in a system call the runtime's sysmon
		// sleeps its longest.
		var cancel uint32
		stopCancel := context.AfterFunc(ctx, func() { atomic.StoreUint32(&cancel, 1) })
		msgs, err = measure.Stream(fd, msg, end, &cancel)
		stopCancel()
		nz = noise.End()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		var count [8]byte
		if err := measure.ReadFull(fd, count[:]); err != nil {
			return fmt.Errorf("byte count: %w", err)
		}
		window = measure.Now() - t0
		received = binary.BigEndian.Uint64(count[:])
		if ti, err = measure.TCPInfo(fd); err != nil {
			return err
		}
		// Segs_out also counts the FIN; it is one segment in millions.
		segs = ti.Segs_out - segs0
		return nil
	})
	if err := tcpJoin(lfd, client, server); err != nil {
		return nil, fmt.Errorf("small-msgs: %w", err)
	}
	tcpGCCheck(r, gc0)
	schedNoise(r, "", nz)
	if sent := uint64(msgs) * uint64(p.Size); received != sent {
		r.Valid = false
		r.Invalid = fmt.Sprintf("receiver got %d bytes, sender wrote %d", received, sent)
	}
	if segs == 0 {
		r.Valid = false
		r.Invalid = "tcp_info segs_out did not advance"
		segs = 1
	}
	r.Metrics = append(r.Metrics,
		results.Metric{Name: "messages", Unit: "msgs/s", Better: results.HigherIsBetter,
			Value: float64(msgs) / (float64(window) / 1e9), Samples: msgs, Timing: true},
		// How many writes share a segment depends on how fast the receiver
		// and the stack keep up, so these are timing-dependent too.
		results.Metric{Name: "segs_per_msg", Unit: "segments", Better: results.LowerIsBetter,
			Value: float64(segs) / float64(msgs), Samples: msgs, Timing: true},
		results.Metric{Name: "bytes_per_seg", Unit: "bytes", Better: results.Info,
			Value: float64(received) / float64(segs), Samples: int64(segs), Timing: true},
		results.Metric{Name: "msgs", Unit: "count", Better: results.Info, Value: float64(msgs)},
	)
	r.Duration = time.Since(start)
	return r, nil
}
