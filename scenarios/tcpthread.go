package scenarios

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// Shared plumbing of the TCP scenarios: a client and a server, each on its
// own locked OS thread, talking over loopback through raw blocking sockets.

// tcpCPUs places the client and the server: on different CPUs when there
// are two, so each side has a CPU of its own as in a real deployment.
func tcpCPUs(env Env) (client, server int) {
	if env.CPUs >= 2 {
		return 0, 1
	}
	return 0, 0
}

// tcpThread runs fn on a new goroutine locked to an OS thread pinned to cpu
// with SCHED_OTHER and 1 ns timer slack; the channel yields fn's error.
func tcpThread(cpu int, fn func() error) <-chan error {
	ch := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it dies with the goroutine and takes
		// its pinning and policy with it.
		if err := measure.LockThread(cpu); err != nil {
			ch <- err
			return
		}
		if err := measure.SetOther(0); err != nil {
			ch <- err
			return
		}
		ch <- fn()
	}()
	return ch
}

// tcpServe runs a one-connection server on a thread pinned to cpu: it
// accepts a connection, hands it to fn and closes it. A listener shut down
// before anyone connected (see tcpJoin) ends it without error.
func tcpServe(cpu, lfd int, fn func(fd int) error) <-chan error {
	return tcpThread(cpu, func() error {
		fd, done, err := tcpAccept(lfd)
		if done || err != nil {
			return err
		}
		defer unix.Close(fd)
		return fn(fd)
	})
}

// tcpJoin waits for the client, then shuts the listener down so a server
// still blocked in accept (the client failed early, or it serves until
// told to stop) returns, and waits for the server. A server's accept
// failing after that is its normal end: tcpAccepting reports it.
func tcpJoin(lfd int, client, server <-chan error) error {
	cerr := <-client
	unix.Shutdown(lfd, unix.SHUT_RDWR)
	serr := <-server
	if cerr != nil {
		return fmt.Errorf("client: %w", cerr)
	}
	if serr != nil {
		return fmt.Errorf("server: %w", serr)
	}
	return nil
}

// tcpAccept accepts a connection; done is true (and err nil) when the
// listener was shut down by tcpJoin.
func tcpAccept(lfd int) (fd int, done bool, err error) {
	fd, err = measure.Accept(lfd)
	if errors.Is(err, unix.EINVAL) {
		return -1, true, nil
	}
	return fd, false, err
}

// tcpGCCheck invalidates r when a GC cycle ran since before.
func tcpGCCheck(r *results.Scenario, before uint64) {
	if after := measure.GCCycles(); after != before {
		r.Valid = false
		r.Invalid = fmt.Sprintf("%d GC cycle(s) ran during the measurement", after-before)
	}
}

// tcpMedian returns the median of v (0 for none).
func tcpMedian(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return results.Median(v)
}

// tcpSysctlMetric records a sysctl's value as an Info metric when it is
// numeric, so reports show what the kernel ran with.
func tcpSysctlMetric(name string) (results.Metric, bool) {
	s, err := measure.ReadSysctl(name)
	if err != nil {
		return results.Metric{}, false
	}
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return results.Metric{}, false
	}
	return results.Metric{Name: "sysctl." + name, Unit: "value", Better: results.Info, Value: v}, true
}
