package measure

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// A window's loops never call an ordinary Go function.
//
// The runtime's sysmon asks a goroutine that has run for 10 ms without
// passing through the scheduler to yield, and the goroutine honours the
// request at its next function call that checks the stack. A measuring
// goroutine is locked to its thread, so yielding there is a handoff: the
// thread gives its P to an idle thread, which it wakes, and sleeps on a
// futex; that thread finds the goroutine runnable, hands the P back, wakes
// the measuring thread and sleeps again. Seen with strace on tcp-rr's
// server: every 10-20 ms, four futex calls across two threads, 300-400
// switches a second of the process's other threads, and on one vCPU each
// of them takes the CPU from the round trip being timed (tcp-rr's p99 ran
// 1.4-1.9x sockperf's while its p50 agreed).
//
// The loops below are nosplit: they have no stack check, so the request is
// never seen while they run, and they call only nosplit code (raw system
// calls, the vDSO clock). The goroutine yields once, at its first ordinary
// call after the window. Samples go to a preallocated buffer (Samples), not
// into a histogram, whose methods are ordinary functions.

// Samples is a window's samples, recorded without a function call. Its
// buffer is allocated and touched before the window.
type Samples struct {
	v []int64
	n int
}

// NewSamples returns a buffer of n samples, every page written so that
// recording never faults.
func NewSamples(n int) *Samples {
	s := &Samples{v: make([]int64, max(n, 1))}
	for i := range s.v {
		s.v[i] = -1
	}
	return s
}

// Chunk is how many samples a window loop records before they are moved
// into a histogram (MoveTo, an ordinary call, where a goroutine in a
// nosplit loop may yield once): 512 KiB of samples.
const Chunk = 1 << 16

// MoveTo records the samples in h (as Record does) and empties the buffer.
func (s *Samples) MoveTo(h *hdrhistogram.Histogram) {
	for _, v := range s.Values() {
		Record(h, v)
	}
	s.Reset()
}

// Values are the samples recorded since the last Reset.
func (s *Samples) Values() []int64 { return s.v[:s.n] }

// Reset empties the buffer.
func (s *Samples) Reset() { s.n = 0 }

// Full is true when no sample fits.
//
//go:nosplit
func (s *Samples) Full() bool { return s.n == len(s.v) }

// Add records v; it is dropped when the buffer is full (see Full).
//
//go:nosplit
func (s *Samples) Add(v int64) {
	if s.n < len(s.v) {
		s.v[s.n] = v
		s.n++
	}
}

// closedErrno stands for "the peer closed the connection before the first
// byte of a message" in the nosplit loops' results.
const closedErrno = ^syscall.Errno(0)

//go:nosplit
func writeAllNS(fd int, b []byte) syscall.Errno {
	for off := 0; off < len(b); {
		n, _, e := syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[off])), uintptr(len(b)-off))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		off += int(n)
	}
	return 0
}

// readFullNS returns closedErrno when the peer closed (or reset) the
// connection before the first byte, and ECONNABORTED after it.
//
//go:nosplit
func readFullNS(fd int, b []byte) syscall.Errno {
	for off := 0; off < len(b); {
		n, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[off])), uintptr(len(b)-off))
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.ECONNRESET && off == 0 {
			return closedErrno
		}
		if e != 0 {
			return e
		}
		if n == 0 {
			if off == 0 {
				return closedErrno
			}
			return syscall.ECONNABORTED
		}
		off += int(n)
	}
	return 0
}

// RoundTrips sends buf on fd and reads as many bytes back, again and again
// until CLOCK_MONOTONIC reaches end or s is full, and records each round
// trip's time (from before the write to after the read, ns) in s. It
// returns how many round trips it made.
//
//go:nosplit
func RoundTrips(fd int, buf []byte, s *Samples, end int64) (int, error) {
	return PingPongs(fd, fd, buf, s, end)
}

// PingPongs is RoundTrips over two descriptors: it writes buf to wfd and
// reads as many bytes back from rfd (a pipe pair, say).
//
//go:nosplit
func PingPongs(wfd, rfd int, buf []byte, s *Samples, end int64) (int, error) {
	n := 0
	for !s.Full() {
		t0 := nanotime()
		if t0 >= end {
			break
		}
		if e := writeAllNS(wfd, buf); e != 0 {
			return n, loopErr("write", e)
		}
		if e := readFullNS(rfd, buf); e != 0 {
			return n, loopErr("read", e)
		}
		s.Add(nanotime() - t0)
		n++
	}
	return n, nil
}

// Echo reads len(buf)-byte messages from fd and writes each back until the
// peer closes the connection between messages (nil) or a call fails.
//
//go:nosplit
func Echo(fd int, buf []byte) error {
	return Relay(fd, fd, buf)
}

// Relay is Echo over two descriptors: it reads len(buf)-byte messages from
// rfd and writes each to wfd until rfd reaches its end (the writer closed
// it) between messages.
//
//go:nosplit
func Relay(rfd, wfd int, buf []byte) error {
	for {
		if e := readFullNS(rfd, buf); e == closedErrno {
			return nil
		} else if e != 0 {
			return loopErr("read", e)
		}
		if e := writeAllNS(wfd, buf); e != 0 {
			return loopErr("write", e)
		}
	}
}

// loopErr turns a loop's errno into an error; called once, as the loop
// ends.
func loopErr(op string, e syscall.Errno) error {
	switch e {
	case closedErrno:
		return &os.SyscallError{Syscall: op, Err: ErrClosed}
	case syscall.ECONNABORTED:
		return &os.SyscallError{Syscall: op, Err: errShortMessage}
	}
	return &os.SyscallError{Syscall: op, Err: e}
}

// SleepLoop is a timer thread's window: it sleeps to absolute
// CLOCK_MONOTONIC deadlines every interval from t0 until end and records
// how late each wakeup was (ns) in s. A wakeup later than the next deadline
// skips the deadlines already past; it returns how many inside the window
// were missed. It stops early when *stop becomes non-zero (checked at every
// wakeup).
//
//go:nosplit
func SleepLoop(s *Samples, t0, interval, end int64, stop *uint32) (missed int64) {
	next := t0 + interval
	for next < end && !s.Full() {
		sleepUntilNS(next)
		now := nanotime()
		s.Add(now - next)
		next += interval
		if next <= now {
			skip := (now-next)/interval + 1
			// Only deadlines inside the window count as missed.
			if next < end {
				inside := (end - next + interval - 1) / interval
				if skip < inside {
					missed += skip
				} else {
					missed += inside
				}
			}
			next += skip * interval
		}
		if atomic.LoadUint32(stop) != 0 {
			break
		}
	}
	return missed
}

// sleepUntilNS is SleepUntil's body: nosplit, and calling only a raw
// system call, so the window loops can use it.
//
//go:nosplit
func sleepUntilNS(deadline int64) {
	var ts unix.Timespec
	ts.Sec = deadline / 1e9
	ts.Nsec = deadline % 1e9
	for {
		_, _, e := syscall.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// Spin keeps the calling thread busy in the kernel, reading from fd into
// buf, until *stop becomes non-zero: a hog that never yields to the Go
// scheduler either.
//
//go:nosplit
func Spin(fd int, buf []byte, stop *uint32) error {
	for atomic.LoadUint32(stop) == 0 {
		if fd < 0 {
			continue
		}
		_, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e != 0 && e != syscall.EINTR {
			return loopErr("read", e)
		}
	}
	return nil
}

// Quiet lowers every thread of the process that is not a measuring thread
// (see LockThread) to SCHED_IDLE, and returns a function that puts each back
// as it was. The runtime's sysmon still wakes every 10 ms, and its other
// threads when it hands a P around, but a SCHED_IDLE thread never preempts
// a measuring one: it runs when a CPU has nothing else to do. Call it only
// when the measuring threads need nothing from the others until the
// window ends (their loops are the nosplit ones above): a measuring
// goroutine that yielded would wait for an idle-class thread. Putting a
// thread back needs root or CAP_SYS_NICE; without them it stays idle-class
// until the process ends (every scenario is a process of its own).
func Quiet() (restore func()) {
	type saved struct {
		tid  int
		attr *unix.SchedAttr
	}
	var lowered []saved
	for _, tid := range otherThreads() {
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue
		}
		idle := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
		if unix.SchedSetAttr(tid, &idle, 0) == nil {
			lowered = append(lowered, saved{tid, attr})
			quieted.Store(tid, true)
		}
	}
	return func() {
		for _, s := range lowered {
			s.attr.Size = unix.SizeofSchedAttr
			unix.SchedSetAttr(s.tid, s.attr, 0)
			quieted.Delete(s.tid)
		}
	}
}

// QuietWindow starts a window whose n measuring threads run nosplit loops:
// it waits until *entered (counted by each thread once past its start,
// where it may still need another thread to hand it a P) reaches n, lowers
// the other threads (Quiet) and starts the self-noise count. The function
// it returns ends the window: the self-noise, the threads put back.
func QuietWindow(entered *atomic.Int32, n int) (end func() Noise) {
	for entered.Load() < int32(n) {
		time.Sleep(50 * time.Microsecond)
	}
	restore := Quiet()
	noise := StartNoise()
	return func() Noise {
		nz := noise.End()
		restore()
		return nz
	}
}

// quieted holds the thread ids Quiet lowered, until its restore.
var quieted sync.Map

// otherThreads lists the threads of the process that are not measuring
// threads.
func otherThreads() []int {
	d, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	var tids []int
	for _, e := range d {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ok := measuring.Load(tid); !ok {
			tids = append(tids, tid)
		}
	}
	return tids
}

// SendMessages writes msg to each of fds in turn, loops times: the senders
// of hackbench, in a nosplit loop.
//
//go:nosplit
func SendMessages(fds []int, msg []byte, loops int) error {
	for i := 0; i < loops; i++ {
		for j := 0; j < len(fds); j++ {
			if e := writeAllNS(fds[j], msg); e != 0 {
				return loopErr("write", e)
			}
		}
	}
	return nil
}

// ReceiveMessages reads len(buf)-byte messages from fd until want bytes
// have arrived: the receivers of hackbench, in a nosplit loop.
//
//go:nosplit
func ReceiveMessages(fd int, buf []byte, want int) error {
	for got := 0; got < want; got += len(buf) {
		if e := readFullNS(fd, buf); e != 0 {
			return loopErr("read", e)
		}
	}
	return nil
}

// Stream writes msg to fd again and again until CLOCK_MONOTONIC reaches end
// (read every 1024 messages) or *stop becomes non-zero, and returns how
// many it wrote: small-msgs' sender, in a nosplit loop.
//
//go:nosplit
func Stream(fd int, msg []byte, end int64, stop *uint32) (int64, error) {
	var n int64
	for {
		if n&1023 == 0 && (nanotime() >= end || atomic.LoadUint32(stop) != 0) {
			return n, nil
		}
		if e := writeAllNS(fd, msg); e != 0 {
			return n, loopErr("write", e)
		}
		n++
	}
}

// Drain reads fd into buf until the peer's end of stream and returns how
// many bytes arrived: small-msgs' receiver, in a nosplit loop.
//
//go:nosplit
func Drain(fd int, buf []byte) (uint64, error) {
	var total uint64
	for {
		n, _, e := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return total, loopErr("read", e)
		}
		if n == 0 {
			return total, nil
		}
		total += uint64(n)
	}
}
