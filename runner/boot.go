package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/kvet/kvet/results"
)

// Grace periods of a boot's end. QMP has no timeouts of its own; every call
// is guarded and QEMU is killed to unblock it.
const (
	qmpCallTimeout = 5 * time.Second
	// powerOffGrace is how long QEMU may take to exit after the done frame.
	powerOffGrace = 10 * time.Second
	// panicGrace lets the console and the reset follow a pvpanic event.
	panicGrace = 3 * time.Second
	// stopGrace is each step of quit -> SIGTERM -> SIGKILL.
	stopGrace = 3 * time.Second
	// consoleKeep is how much of the console end is searched for a panic.
	consoleKeep = 64 << 10
	// maxSockDir leaves room for a socket's name within sun_path.
	maxSockDir = 90
	// ConsoleTailLines is how many console lines a failed boot keeps.
	ConsoleTailLines = 40
)

// boot is one QEMU process and everything attached to it.
type boot struct {
	s   BootSpec
	log *slog.Logger

	cmd       *exec.Cmd
	stderr    *tailBuffer
	qemuStart time.Time
	exited    chan struct{} // closed after Wait returned
	exitTime  time.Time
	waitErr   error

	mon *qmp.SocketMonitor

	wg sync.WaitGroup

	mu       sync.Mutex // guards the fields below, written by goroutines
	ev       Evidence
	res      *results.Boot
	events   []qmp.Event
	powerOff time.Time
	helloAt  time.Time
	contAt   time.Time // the guest was started: QEMU's own start-up ends here
	// traceFiles are the trace files written so far (relative names).
	traceFiles map[string]bool

	evNotify chan struct{} // a QMP event arrived (capacity 1)
	panicked chan struct{} // closed when the console shows a kernel panic
	helloCh  chan struct{} // closed at the Hello frame
	doneCh   chan struct{} // closed at the Done frame
}

// Boot boots one kernel in QEMU, sends the plan to the agent when it says
// hello, collects its frames until done and classifies the outcome. It never
// returns nil, and when it returns QEMU is gone and every goroutine it
// started has ended. Cancelling ctx kills QEMU and returns promptly with an
// infra-error "interrupted".
func Boot(ctx context.Context, s BootSpec) *results.Boot {
	t0 := time.Now()
	s = s.withDefaults()
	b := &boot{
		s:        s,
		log:      s.Logger,
		stderr:   &tailBuffer{max: 8 << 10},
		exited:   make(chan struct{}),
		evNotify: make(chan struct{}, 1),
		helloCh:  make(chan struct{}),
		doneCh:   make(chan struct{}),
		panicked: make(chan struct{}),
		res:      &results.Boot{Schema: results.SchemaVersion, Accel: s.Accel, Started: t0, Traced: s.Plan.Trace},
	}
	b.run(ctx, t0)
	return b.res
}

func (b *boot) run(ctx context.Context, t0 time.Time) {
	s := &b.s
	fail := func(err error) {
		b.ev.StartErr = err
		b.finish(t0, time.Now())
	}
	if ctx.Err() != nil {
		b.ev.Interrupted = true
		b.finish(t0, time.Now())
		return
	}
	workDir := s.WorkDir
	if workDir == "" {
		cleanStaleOnce.Do(func() { CleanStale(os.TempDir()) })
		d, err := os.MkdirTemp("", workDirPrefix())
		if err != nil {
			fail(fmt.Errorf("work dir: %w", err))
			return
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	if s.ConsolePath == "" {
		s.ConsolePath = filepath.Join(workDir, "console.log")
	}
	if err := os.MkdirAll(filepath.Dir(s.ConsolePath), 0o755); err != nil {
		fail(fmt.Errorf("console: %w", err))
		return
	}
	sockDir := workDir
	if len(sockDir) > maxSockDir {
		// A unix socket path must fit in 108 bytes.
		cleanStaleOnce.Do(func() { CleanStale(os.TempDir()) })
		d, err := os.MkdirTemp("", sockDirPrefix())
		if err != nil {
			fail(fmt.Errorf("socket dir: %w", err))
			return
		}
		defer os.RemoveAll(d)
		sockDir = d
	}
	if s.ScratchDiskMB > 0 {
		if s.ScratchDiskMB > MaxScratchDiskMB {
			fail(fmt.Errorf("scratch disk: %d MiB, at most %d", s.ScratchDiskMB, MaxScratchDiskMB))
			return
		}
		s.ScratchPath = filepath.Join(workDir, "scratch.img")
		if err := sparseFile(s.ScratchPath, int64(s.ScratchDiskMB)<<20); err != nil {
			fail(fmt.Errorf("scratch disk: %w", err))
			return
		}
		defer os.Remove(s.ScratchPath)
	}
	qmpSock := filepath.Join(sockDir, "qmp.sock")
	portSock := filepath.Join(sockDir, "port.sock")
	os.Remove(qmpSock)
	os.Remove(portSock)
	defer os.Remove(qmpSock)
	defer os.Remove(portSock)
	ln, err := net.Listen("unix", portSock)
	if err != nil {
		fail(fmt.Errorf("results port: %w", err))
		return
	}
	defer ln.Close() // also unblocks Accept when QEMU never connected
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		b.readFrames(conn)
	}()

	if err := checkFiles(*s, b.res); err != nil {
		ln.Close()
		b.wg.Wait()
		fail(err)
		return
	}
	if err := b.start(qmpSock, portSock); err != nil {
		ln.Close()
		b.wg.Wait()
		fail(err)
		return
	}
	deadline := time.NewTimer(s.Timeout)
	defer deadline.Stop()
	stopConsole := make(chan struct{})
	b.wg.Add(1)
	go func() { defer b.wg.Done(); watchConsole(s.ConsolePath, stopConsole, b.panicked) }()

	if err := b.attach(ctx, qmpSock, deadline.C); err != nil {
		switch {
		case ctx.Err() != nil:
			b.ev.Interrupted = true
		case b.hasExited():
			b.ev.Exited = true
			b.ev.StartErr = fmt.Errorf("qemu exited at start: %v: %s", b.waitErr, lastLine(b.stderr.String()))
		default:
			b.ev.StartErr = err
		}
	} else {
		b.watch(ctx, deadline.C)
	}
	b.stop()
	close(stopConsole)
	ln.Close()
	if b.mon != nil {
		b.mon.Disconnect() // QEMU is gone: drains and ends the monitor's reader
	}
	b.wg.Wait()
	b.finish(t0, time.Now())
}

func (b *boot) hasExited() bool {
	select {
	case <-b.exited:
		return true
	default:
		return false
	}
}

// start starts QEMU in its own process group, killed if kvet dies.
func (b *boot) start(qmpSock, portSock string) error {
	args := Args(b.s, qmpSock, portSock)
	cmd := exec.Command(b.s.QEMU, args...)
	cmd.Stdout = b.stderr
	cmd.Stderr = b.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	b.log.Debug("qemu", "cmd", b.s.QEMU, "args", strings.Join(args, " "))
	// Pdeathsig fires when the thread that forked exits, not the process:
	// keep that thread out of the way of goroutines that may end it.
	runtime.LockOSThread()
	err := cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("start qemu: %w", err)
	}
	b.cmd = cmd
	b.qemuStart = time.Now()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		err := cmd.Wait()
		b.mu.Lock()
		b.waitErr, b.exitTime = err, time.Now()
		b.mu.Unlock()
		close(b.exited)
	}()
	return nil
}

// guard runs f, giving up (and killing QEMU so that f returns) when it takes
// longer than qmpCallTimeout, ctx ends or QEMU exits.
func (b *boot) guard(ctx context.Context, what string, f func() error) error {
	res := make(chan error, 1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		res <- f()
	}()
	t := time.NewTimer(qmpCallTimeout)
	defer t.Stop()
	select {
	case err := <-res:
		if err != nil {
			return fmt.Errorf("qmp %s: %w", what, err)
		}
		return nil
	case <-ctx.Done():
		b.kill()
		return fmt.Errorf("qmp %s: %w", what, ctx.Err())
	case <-b.exited:
		return fmt.Errorf("qmp %s: qemu exited", what)
	case <-t.C:
		b.kill()
		return fmt.Errorf("qmp %s: no answer within %s", what, qmpCallTimeout)
	}
}

// attach connects QMP, subscribes to events and starts the guest.
func (b *boot) attach(ctx context.Context, qmpSock string, deadline <-chan time.Time) error {
	var mon *qmp.SocketMonitor
	for {
		m, err := qmp.NewSocketMonitor("unix", qmpSock, time.Second)
		if err == nil {
			mon = m
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.exited:
			return errors.New("qemu exited")
		case <-deadline:
			return fmt.Errorf("qmp socket did not appear within %s", b.s.Timeout)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := b.guard(ctx, "connect", mon.Connect); err != nil {
		mon.Disconnect()
		return err
	}
	b.mon = mon
	events, err := mon.Events(context.Background())
	if err != nil {
		return fmt.Errorf("qmp events: %w", err)
	}
	// Drain events in their own goroutine: an unread event blocks every
	// later reply.
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for e := range events {
			b.mu.Lock()
			b.events = append(b.events, e)
			if e.Event == "SHUTDOWN" && b.powerOff.IsZero() {
				b.powerOff = time.Now()
			}
			b.mu.Unlock()
			select {
			case b.evNotify <- struct{}{}:
			default:
			}
		}
	}()
	if len(b.s.HostCPUs) > 0 {
		pinned, emulator, err := b.pin(ctx)
		if err != nil {
			return err
		}
		b.res.PinnedCPUs, b.res.EmulatorCPUs = pinned, emulator
	}
	if b.s.Nice != 0 {
		nice, err := Renice(b.cmd.Process.Pid, b.s.Nice)
		if err != nil {
			return err
		}
		b.res.QEMUNice = nice
	}
	err = b.guard(ctx, "cont", func() error {
		_, err := mon.Run([]byte(`{"execute":"cont"}`))
		return err
	})
	if err == nil {
		b.mu.Lock()
		b.contAt = time.Now()
		b.mu.Unlock()
	}
	return err
}

// watch waits for the boot to end: QEMU exiting, the done frame (then QEMU
// exiting after the power-off), a panic, a stop, the timeout or ctx.
func (b *boot) watch(ctx context.Context, deadline <-chan time.Time) {
	var grace <-chan time.Time
	seen := 0
	done := b.doneCh
	panicked := b.panicked
	for {
		select {
		case <-panicked:
			// The console shows a panic the guest may never report (panic=0
			// without pvpanic): let the rest of its report arrive, then end.
			panicked = nil
			if grace == nil {
				grace = time.After(panicGrace)
			}
		case <-ctx.Done():
			b.ev.Interrupted = true
			return
		case <-deadline:
			b.ev.Timeout = b.s.Timeout
			return
		case <-b.exited:
			b.ev.Exited = true
			return
		case <-grace:
			return
		case <-done:
			done = nil
			grace = time.After(powerOffGrace)
		case <-b.evNotify:
			b.mu.Lock()
			evs := b.events[seen:]
			seen = len(b.events)
			b.mu.Unlock()
			for _, e := range evs {
				b.log.Debug("qmp event", "event", e.Event, "data", e.Data)
				switch e.Event {
				case "GUEST_PANICKED":
					grace = time.After(panicGrace)
				case "STOP":
					b.ev.Status = b.queryStatus(ctx)
					return
				}
			}
		}
	}
}

func (b *boot) queryStatus(ctx context.Context) string {
	var out []byte
	err := b.guard(ctx, "query-status", func() error {
		var err error
		out, err = b.mon.Run([]byte(`{"execute":"query-status"}`))
		return err
	})
	if err != nil {
		return "query-status: " + err.Error()
	}
	var r struct {
		Return struct {
			Status string `json:"status"`
		} `json:"return"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return "query-status: " + err.Error()
	}
	return r.Return.Status
}

// kill ends QEMU's whole process group at once.
func (b *boot) kill() {
	if b.cmd != nil && b.cmd.Process != nil {
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// stop ends QEMU: QMP quit, then SIGTERM, then SIGKILL, and waits for it.
func (b *boot) stop() {
	if b.cmd == nil {
		return
	}
	pg := -b.cmd.Process.Pid
	wait := time.Duration(0) // no quit sent: nothing to wait for
	if !b.hasExited() && b.mon != nil {
		b.guard(context.Background(), "quit", func() error {
			b.mon.Run([]byte(`{"execute":"quit"}`)) // QEMU may close before it answers
			return nil
		})
		wait = stopGrace
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if b.hasExited() {
			break
		}
		select {
		case <-b.exited:
		case <-time.After(wait):
			b.log.Debug("qemu still running", "signal", sig)
			syscall.Kill(pg, sig)
		}
		wait = stopGrace
	}
	<-b.exited
	// Whatever QEMU left in its group (a stand-in's children) goes too.
	syscall.Kill(pg, syscall.SIGKILL)
}

// finish classifies the boot and fills in its timings. Every goroutine has
// ended, so the fields need no lock.
func (b *boot) finish(t0, end time.Time) {
	ev := &b.ev
	for _, e := range b.events {
		name := e.Event
		if r, ok := e.Data["reason"].(string); ok && name == "SHUTDOWN" {
			name += ":" + r
		}
		ev.Events = append(ev.Events, name)
	}
	if b.cmd != nil {
		ev.ExitErr = b.waitErr
		ev.Stderr = b.stderr.String()
		b.res.Wall = b.exitTime.Sub(b.qemuStart)
		if !b.helloAt.IsZero() {
			b.res.FirstFrame = b.helloAt.Sub(b.qemuStart)
		}
		off := b.powerOff
		if off.IsZero() && ev.Exited {
			off = b.exitTime
		}
		if off.IsZero() {
			off = end
		}
		// Host-side: preparing and starting QEMU up to the guest's start
		// (QMP, pinning, cont), and tearing down after the power-off.
		started := b.contAt
		if started.IsZero() {
			started = b.qemuStart
		}
		b.res.HostOverhead = started.Sub(t0) + end.Sub(off)
		b.log.Debug("host overhead", "prepare", b.qemuStart.Sub(t0), "qemu-start", started.Sub(b.qemuStart), "teardown", end.Sub(off))
	} else {
		b.res.HostOverhead = end.Sub(t0)
	}
	ev.Console = readTail(b.s.ConsolePath, consoleKeep)
	b.res.Outcome, b.res.Reason = Classify(*ev)
	checkRelease(b.s.Expect, b.res)
	if b.res.Outcome != results.OK {
		b.res.ConsoleTail = tail(ev.Console, ConsoleTailLines)
	}
	b.log.Debug("boot ended", "outcome", b.res.Outcome, "reason", b.res.Reason, "events", ev.Events, "wall", b.res.Wall)
}

// readTail returns up to the last n bytes of the file at path, "" when it
// cannot be read.
func readTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	buf, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(string(buf), "\r", "")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// sparseFile creates (or empties) path as a sparse file of size bytes.
func sparseFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
