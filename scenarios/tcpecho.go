package scenarios

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/scenarios/measure"
)

// tcp-rr's server can run as a process of its own, as the reference tools'
// servers (sockperf, netperf) and real services do: then each round trip
// crosses two address spaces, which on one CPU means a process switch per
// message rather than a thread switch inside one process.

// TCPEchoVerb is the first argument of tcp-rr's server process:
// `SELF tcp-echo CPU SIZE`, with the listening socket as file descriptor 3.
const TCPEchoVerb = "tcp-echo"

// ServesChildren is set by a binary whose main dispatches TCPEchoVerb to
// TCPEchoMain (kvet's own main does; a test binary does in its TestMain).
// Without it a scenario never starts itself as a server process: a binary
// that does not know the verb would run its own main instead.
var ServesChildren bool

// TCPEchoMain is the server process: pinned to CPU, SCHED_OTHER, memory
// locked and GC off, it accepts one connection on fd 3, turns NODELAY on
// and echoes SIZE-byte messages until the peer closes. It returns the
// process's exit code; an error goes to stderr.
func TCPEchoMain(args []string) int {
	if err := tcpEcho(args); err != nil {
		fmt.Fprintf(os.Stderr, "kvet %s: %v\n", TCPEchoVerb, err)
		return 1
	}
	return 0
}

func tcpEcho(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want CPU SIZE, got %q", args)
	}
	cpu, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	size, err := strconv.Atoi(args[1])
	if err != nil || size < 1 || size > 1<<20 {
		return fmt.Errorf("size %q: want 1..1048576", args[1])
	}
	if err := measure.Prepare(); err != nil {
		return err
	}
	if err := measure.LockThread(cpu); err != nil {
		return err
	}
	if err := measure.SetOther(0); err != nil {
		return err
	}
	// The process serves one connection and ends: its other threads (the
	// runtime's) stay idle-class for good.
	measure.Quiet()
	fd, done, err := tcpAccept(3)
	unix.Close(3)
	if done || err != nil {
		return err
	}
	defer unix.Close(fd)
	return tcpEchoConn(fd, size)
}

// tcpEchoConn is tcp-rr's server on a connection, as a process or a
// thread: NODELAY on, size-byte messages echoed until the peer closes.
func tcpEchoConn(fd, size int) error {
	if err := measure.SetNoDelay(fd, true); err != nil {
		return err
	}
	return measure.Echo(fd, make([]byte, size))
}

// errNoServerProcess: this binary cannot start itself as a server process.
var errNoServerProcess = errors.New("this binary does not serve tcp-echo (scenarios.ServesChildren)")

// tcpServeProcess starts the server process on cpu with the listener lfd
// and returns a channel that yields its end (nil when it exited 0 or was
// shut down before a connection came, else its error with its stderr) and
// a stop that kills it if it still runs: defer it. (No parent-death signal:
// Linux sends it when the thread that started the child exits, and the Go
// runtime ends a thread whose goroutine exits locked to it, as the
// client's does: in guests it killed the server in 3 of 4 boots. The
// scenario's process group is killed whole on a timeout.)
func tcpServeProcess(cpu, lfd, size int) (<-chan error, func(), error) {
	if !ServesChildren {
		return nil, nil, errNoServerProcess
	}
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	dup, err := unix.Dup(lfd)
	if err != nil {
		return nil, nil, fmt.Errorf("dup listener: %w", err)
	}
	l := os.NewFile(uintptr(dup), "listener")
	defer l.Close()
	var stderr tailBuffer
	cmd := exec.Command(self, TCPEchoVerb, strconv.Itoa(cpu), strconv.Itoa(size))
	cmd.ExtraFiles = []*os.File{l}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start server process: %w", err)
	}
	ch := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("server process: %w: %s", err, stderr.String())
		}
		ch <- err
	}()
	stop := func() { cmd.Process.Signal(syscall.SIGKILL) }
	return ch, stop, nil
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
