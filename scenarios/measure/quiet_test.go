package measure

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A measuring thread in a window never hands its P around: the runtime's
// request to yield (every 10 ms) is not seen inside the nosplit loops. A
// locked thread that yields sleeps on a futex until another thread hands
// the P back, a voluntary context switch beyond its sleeps; an ordinary
// loop (the control) shows them, SleepLoop must not. The check runs in a
// child process with GODEBUG=asyncpreemptoff=1, as every scenario process
// runs in a guest: with asynchronous preemption on, the runtime's signal
// interrupts the sleeps of any loop.
func TestLoopsNeverYield(t *testing.T) {
	if os.Getenv("KVET_YIELD_CHILD") == "1" {
		yieldChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoopsNeverYield$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "KVET_YIELD_CHILD=1", "GODEBUG=asyncpreemptoff=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

func yieldChild(t *testing.T) {
	const window = 400 * time.Millisecond
	const interval = int64(time.Millisecond)
	type result struct {
		sleeps, voluntary int64
	}
	run := func(loop func(s *Samples, t0, end int64)) result {
		ch := make(chan result)
		go func() {
			if err := LockThread(-1); err != nil {
				t.Error(err)
			}
			s := NewSamples(int(window/time.Millisecond) + 2)
			before := ThreadSwitches()
			t0 := Now()
			loop(s, t0, t0+int64(window))
			after := ThreadSwitches()
			ch <- result{int64(len(s.Values())), after.Sub(before).Voluntary}
		}()
		return <-ch
	}
	control := run(func(s *Samples, t0, end int64) {
		// SleepUntil and Add through an ordinary function: the loop
		// checks the stack, so it yields when asked.
		for next := t0 + interval; next < end; next += interval {
			SleepUntil(next)
			addSplit(s, Now()-next)
		}
	})
	var stop uint32
	quiet := run(func(s *Samples, t0, end int64) { SleepLoop(s, t0, interval, end, &stop) })
	t.Logf("control: %d sleeps, %d voluntary switches; SleepLoop: %d sleeps, %d voluntary switches",
		control.sleeps, control.voluntary, quiet.sleeps, quiet.voluntary)
	// The control yields every 10-20 ms: on a quiet machine 15-20 extra
	// switches in 400 ms. Not asserted: when the other thread hands the P
	// back before the locked one sleeps, a yield costs no switch, and on a
	// loaded machine that happens often (0-16 seen).
	if extra := quiet.voluntary - quiet.sleeps; extra > 4 {
		t.Errorf("SleepLoop switched %d times beyond its %d sleeps, want at most 4: the loop yields to the scheduler", extra, quiet.sleeps)
	}
}

// addSplit is an ordinary call: not inlined, and not a leaf (a leaf with a
// small frame is made nosplit by the compiler), so it checks the stack.
//
//go:noinline
func addSplit(s *Samples, v int64) {
	addLeaf(s, v)
}

//go:noinline
func addLeaf(s *Samples, v int64) { s.Add(v) }

// RoundTrips against Echo over loopback TCP: every round trip is timed, the
// echo ends when the client closes, and a closed peer is an error wrapping
// ErrClosed.
func TestRoundTripsEcho(t *testing.T) {
	lfd, port, err := Listen(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	served := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fd, err := Accept(lfd)
		if err != nil {
			served <- err
			return
		}
		defer unix.Close(fd)
		served <- Echo(fd, make([]byte, 64))
	}()
	fd, err := Dial(port, func(fd int) error { return SetNoDelay(fd, true) })
	if err != nil {
		t.Fatal(err)
	}
	s := NewSamples(1000)
	n, err := RoundTrips(fd, make([]byte, 64), s, Now()+int64(10*time.Second))
	if err != nil || n != 1000 || len(s.Values()) != 1000 || !s.Full() {
		t.Fatalf("RoundTrips = %d, %v with %d samples, want 1000 (the buffer full)", n, err, len(s.Values()))
	}
	for i, v := range s.Values() {
		if v <= 0 {
			t.Fatalf("sample %d = %d ns", i, v)
		}
	}
	s.Reset()
	if n, err := RoundTrips(fd, make([]byte, 64), s, Now()); n != 0 || err != nil {
		t.Errorf("RoundTrips past its end = %d, %v, want 0, nil", n, err)
	}
	unix.Close(fd)
	if err := <-served; err != nil {
		t.Errorf("Echo after the client closed = %v, want nil", err)
	}

	// The server closes: the client's next round trip fails with ErrClosed.
	go func() {
		fd, err := Accept(lfd)
		if err == nil {
			unix.Close(fd)
		}
	}()
	fd, err = Dial(port, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var last error
	for i := 0; i < 100 && last == nil; i++ {
		s.Reset()
		_, last = RoundTrips(fd, make([]byte, 64), s, Now()+int64(time.Second))
	}
	if !errors.Is(last, ErrClosed) && !errors.Is(last, unix.EPIPE) && !errors.Is(last, unix.ECONNRESET) {
		t.Errorf("RoundTrips to a closed peer = %v, want ErrClosed (or EPIPE, ECONNRESET)", last)
	}
}

// SleepLoop counts deadlines it overslept, inside the window only, and
// stops at the flag.
func TestSleepLoopMissed(t *testing.T) {
	s := NewSamples(100)
	var stop uint32
	t0 := Now() - int64(50*time.Millisecond) // 50 deadlines already past
	missed := SleepLoop(s, t0, int64(time.Millisecond), t0+int64(60*time.Millisecond), &stop)
	if missed < 40 || missed > 60 {
		t.Errorf("missed = %d, want about 49 (the first wakeup is 49 ms late)", missed)
	}
	if v := s.Values(); len(v) == 0 || v[0] < int64(40*time.Millisecond) {
		t.Errorf("samples %v, want the first about 49 ms late", v)
	}
	stop = 1
	s.Reset()
	t0 = Now()
	SleepLoop(s, t0, int64(time.Millisecond), t0+int64(time.Second), &stop)
	if n := len(s.Values()); n != 1 {
		t.Errorf("with the stop flag set, %d wakeups, want 1", n)
	}
}

// Quiet lowers the process's other threads to SCHED_IDLE, not the
// measuring ones, and puts them back.
func TestQuiet(t *testing.T) {
	other := make(chan int)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		other <- unix.Gettid()
		<-release
	}()
	otherTid := <-other
	defer close(release)
	measuringTid := make(chan int)
	done := make(chan struct{})
	go func() {
		if err := LockThread(-1); err != nil {
			t.Error(err)
		}
		measuringTid <- unix.Gettid()
		<-done
	}()
	mTid := <-measuringTid
	defer close(done)

	restore := Quiet()
	if p := policy(t, otherTid); p != unix.SCHED_IDLE {
		t.Errorf("other thread's policy after Quiet = %d, want SCHED_IDLE (%d)", p, unix.SCHED_IDLE)
	}
	if p := policy(t, mTid); p != unix.SCHED_NORMAL {
		t.Errorf("measuring thread's policy after Quiet = %d, want SCHED_NORMAL", p)
	}
	// While lowered, the other thread's self-noise counts its voluntary
	// switches only (its wakeups), not its preemptions.
	if _, ok := quieted.Load(otherTid); !ok {
		t.Errorf("thread %d lowered by Quiet is not marked for the self-noise count", otherTid)
	}
	if _, ok := quieted.Load(mTid); ok {
		t.Errorf("measuring thread %d marked as lowered", mTid)
	}
	restore()
	if _, ok := quieted.Load(otherTid); ok {
		t.Errorf("thread %d still marked as lowered after restore", otherTid)
	}
	if os.Geteuid() != 0 {
		return // putting a thread back from SCHED_IDLE needs root or CAP_SYS_NICE
	}
	if p := policy(t, otherTid); p != unix.SCHED_NORMAL {
		t.Errorf("other thread's policy after restore = %d, want SCHED_NORMAL", p)
	}
}

// policy reads a thread's scheduling policy from /proc (field 41 of stat).
func policy(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	p, err := strconv.Atoi(f[41-3])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A collection asked for during a window waits for the window's loop to
// end: its stop-the-world needs every P, and the loop never gives its P up.
func TestLoopHoldsOffGC(t *testing.T) {
	const window = 300 * time.Millisecond
	ends := make(chan int64, 1)
	var stop uint32
	start := Now()
	end := start + int64(window)
	go func() {
		if err := LockThread(-1); err != nil {
			t.Error(err)
		}
		SleepLoop(NewSamples(400), start, int64(time.Millisecond), end, &stop)
		ends <- Now()
	}()
	time.Sleep(window / 6)
	asked := Now()
	runtime.GC()
	collected := Now()
	loopEnd := <-ends
	if asked > end-int64(window/6) {
		t.Skipf("the collection was asked for %v after the window began, too late to tell (a loaded host)", time.Duration(asked-start))
	}
	if collected < end {
		t.Errorf("a collection asked for %v into a %v window ended %v into it, before the window's end (the loop ended at %v)",
			time.Duration(asked-start), window, time.Duration(collected-start), time.Duration(loopEnd-start))
	}
}

// TestPipeAndFutexPingPongs: the pipe and futex window loops make the
// round trips asked, each sample a positive time, and their answering
// sides end when told (the request pipe closed; done set and woken).
func TestPipeAndFutexPingPongs(t *testing.T) {
	var req, resp [2]int
	if err := unix.Pipe2(req[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := unix.Pipe2(resp[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(req[0])
	defer unix.Close(resp[0])
	defer unix.Close(resp[1])
	relayed := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		relayed <- Relay(req[0], resp[1], make([]byte, 1))
	}()
	s := NewSamples(500)
	if n, err := PingPongs(req[1], resp[0], []byte{'p'}, s, Now()+int64(10*time.Second)); err != nil || n != 500 || !s.Full() {
		t.Fatalf("PingPongs over pipes = %d, %v, want 500 (the buffer full)", n, err)
	}
	for i, v := range s.Values() {
		if v <= 0 {
			t.Fatalf("pipe sample %d = %d ns", i, v)
		}
	}
	unix.Close(req[1])
	if err := <-relayed; err != nil {
		t.Errorf("Relay after the request pipe closed = %v, want nil", err)
	}

	var freq, fresp, seq, done uint32
	served := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		served <- FutexRelay(&freq, &fresp, &done)
	}()
	s.Reset()
	if n, err := FutexPingPongs(&freq, &fresp, &seq, s, Now()+int64(10*time.Second)); err != nil || n != 500 || seq != 500 {
		t.Fatalf("FutexPingPongs = %d, %v, sequence %d; want 500 round trips", n, err, seq)
	}
	atomic.StoreUint32(&done, 1)
	atomic.AddUint32(&freq, 1)
	FutexWake(&freq, 1)
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("FutexRelay after done = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FutexRelay did not end after done was set and it was woken")
	}
}
