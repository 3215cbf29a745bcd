package guest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
)

// maxResult bounds a child's standard output.
const maxResult = 32 << 20

// ExecRunner runs each scenario as a child process `PATH scenario-child NAME`.
type ExecRunner struct {
	Path string // the kvet binary ("/init" in the guest)
	// Reaper, when set, is the only caller of wait in the process (PID 1);
	// nil waits for the child directly.
	Reaper *Reaper
	// Grace is how long the child's pipes may stay open after it exited
	// (a grandchild holding them); 0 means 2 s.
	Grace time.Duration
}

// RunScenario implements Runner.
func (r *ExecRunner) RunScenario(ctx context.Context, name string, in Input, logf func(string)) results.Scenario {
	res, err := r.run(ctx, name, in, logf)
	if err != nil {
		return results.Scenario{Name: name, Params: in.Params, Error: err.Error()}
	}
	return res
}

func (r *ExecRunner) run(ctx context.Context, name string, in Input, logf func(string)) (results.Scenario, error) {
	input, err := json.Marshal(in)
	if err != nil {
		return results.Scenario{}, fmt.Errorf("input: %w", err)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	pipe := func() (*os.File, *os.File, error) {
		rd, wr, err := os.Pipe()
		if err == nil {
			files = append(files, rd, wr)
		}
		return rd, wr, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return results.Scenario{}, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return results.Scenario{}, err
	}
	errR, errW, err := pipe()
	if err != nil {
		return results.Scenario{}, err
	}

	cmd := exec.Command(r.Path, ChildVerb, name)
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	// Plain files: exec starts no copying goroutines, so not calling Wait
	// (the reaper waits) leaks nothing.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// Its own process group, so a timeout kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited, err := r.start(cmd)
	if err != nil {
		return results.Scenario{}, fmt.Errorf("start %s: %w", name, err)
	}
	defer cmd.Process.Release()
	inR.Close()
	outW.Close()
	errW.Close()

	go func() {
		// Params are small; a child that dies without reading gets EPIPE here.
		inW.Write(input)
		inW.Close()
	}()
	var stdout bytes.Buffer
	var lastErr string
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		io.Copy(&stdout, io.LimitReader(outR, maxResult))
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(errR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lastErr = sc.Text()
			logf(lastErr)
		}
	}()

	var ws unix.WaitStatus
	var timedOut error
	select {
	case ws = <-exited:
	case <-ctx.Done():
		timedOut = ctx.Err()
		unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		ws = <-exited
	}
	// Grandchildren may hold the pipes: end them, then give the readers a
	// moment before closing the pipes under them.
	unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	grace := r.Grace
	if grace == 0 {
		grace = 2 * time.Second
	}
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(grace):
		outR.Close()
		errR.Close()
		<-drained
	}

	if timedOut != nil {
		if errors.Is(timedOut, context.DeadlineExceeded) {
			return results.Scenario{}, fmt.Errorf("scenario %s: timed out, killed", name)
		}
		return results.Scenario{}, fmt.Errorf("scenario %s: %w", name, timedOut)
	}
	var res results.Scenario
	jsonErr := json.Unmarshal(stdout.Bytes(), &res)
	switch {
	case ws.Exited() && ws.ExitStatus() == 0 && jsonErr == nil:
		return res, nil
	case jsonErr == nil && res.Error != "":
		// The child failed and said why.
		return res, nil
	case ws.Exited() && ws.ExitStatus() == 0:
		return results.Scenario{}, fmt.Errorf("scenario %s: bad result: %w", name, jsonErr)
	}
	why := describeExit(ws)
	if lastErr != "" {
		why += ": " + lastErr
	}
	return results.Scenario{}, fmt.Errorf("scenario %s: %s", name, why)
}

func describeExit(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by %v", ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// start starts cmd and returns a channel that receives its wait status.
func (r *ExecRunner) start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	if r.Reaper != nil {
		return r.Reaper.Start(cmd)
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(cmd.Process.Pid, &ws, 0, nil)
			if err != unix.EINTR {
				break
			}
		}
		ch <- ws
	}()
	return ch, nil
}

// Reaper waits for every child of the process, as PID 1 must: orphans are
// reparented to it and would stay zombies. Processes started through Start
// get their status; the others are reaped and forgotten.
type Reaper struct {
	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
	sigs    chan os.Signal
}

// NewReaper starts reaping on SIGCHLD until ctx ends.
func NewReaper(ctx context.Context) *Reaper {
	r := &Reaper{waiting: map[int]chan unix.WaitStatus{}, sigs: make(chan os.Signal, 1)}
	signal.Notify(r.sigs, unix.SIGCHLD)
	go r.loop(ctx)
	return r
}

// Start starts cmd; its status arrives on the returned channel.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	// Holding the lock across Start: the reaper may collect the child before
	// it is registered, and must then wait here to find its owner.
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiting[cmd.Process.Pid] = ch
	return ch, nil
}

func (r *Reaper) loop(ctx context.Context) {
	defer signal.Stop(r.sigs)
	// A slow tick covers a signal lost while the handler was being set up.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.reap()
		select {
		case <-ctx.Done():
			return
		case <-r.sigs:
		case <-tick.C:
		}
	}
}

func (r *Reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		r.mu.Lock()
		ch, ok := r.waiting[pid]
		delete(r.waiting, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		}
	}
}
