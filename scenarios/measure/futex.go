package measure

import (
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations (linux/futex.h); x/sys/unix does not export them.
const (
	futexWait        = 0
	futexWake        = 1
	futexPrivateFlag = 128
)

// FutexWait blocks the calling thread while *addr == val with
// FUTEX_WAIT_PRIVATE, through the runtime's system-call path: for set-up
// and hand-offs outside a window (Gate, Latch); a window's loops use
// FutexPingPongs and FutexRelay. It returns nil when woken, when *addr
// already differs (EAGAIN) or on a signal (EINTR); callers re-check their
// condition in a loop.
func FutexWait(addr *uint32, val uint32) error {
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)),
		futexWait|futexPrivateFlag, uintptr(val), 0, 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EINTR:
		return nil
	}
	return e
}

// FutexWake wakes up to n threads waiting on addr and returns how many it
// woke.
func FutexWake(addr *uint32, n int) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)),
		futexWake|futexPrivateFlag, uintptr(n), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// Gate holds threads until it is opened, so that every measuring thread
// starts its window together. The zero value is closed.
type Gate struct{ word uint32 }

// Wait blocks the calling thread until the gate is open.
func (g *Gate) Wait() {
	for atomic.LoadUint32(&g.word) == 0 {
		FutexWait(&g.word, 0)
	}
}

// Open releases every waiter, now and later.
func (g *Gate) Open() {
	atomic.StoreUint32(&g.word, 1)
	FutexWake(&g.word, 1<<30)
}

// Latch counts arrivals; WaitFor blocks until a given number have arrived.
// The zero value has no arrivals.
type Latch struct{ n uint32 }

// Arrive adds one arrival and wakes the waiter.
func (l *Latch) Arrive() {
	atomic.AddUint32(&l.n, 1)
	FutexWake(&l.n, 1<<30)
}

// WaitFor blocks the calling thread until at least n arrivals.
func (l *Latch) WaitFor(n uint32) {
	for {
		v := atomic.LoadUint32(&l.n)
		if v >= n {
			return
		}
		FutexWait(&l.n, v)
	}
}

// FutexWaitRaw is FUTEX_WAIT_PRIVATE as a raw system call, for a window's
// nosplit loops: the thread keeps its P while it sleeps. EAGAIN and EINTR
// are returned as they come; callers re-check their condition in a loop.
//
//go:nosplit
func FutexWaitRaw(addr *uint32, val uint32) syscall.Errno {
	return futexNS(addr, futexWait, uintptr(val))
}

// FutexWakeRaw is FUTEX_WAKE_PRIVATE of up to n waiters as a raw system
// call, for a window's nosplit loops.
//
//go:nosplit
func FutexWakeRaw(addr *uint32, n int) syscall.Errno {
	return futexNS(addr, futexWake, uintptr(n))
}

//go:nosplit
func futexNS(addr *uint32, op, val uintptr) syscall.Errno {
	_, _, e := syscall.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), op|futexPrivateFlag, val, 0, 0, 0)
	return e
}

// FutexPingPongs is the pinging side of a futex ping-pong in a nosplit
// loop (see RoundTrips): it publishes the next sequence number in *req,
// wakes the other side and sleeps until *resp holds that number, again and
// again until CLOCK_MONOTONIC reaches end or s is full, recording each
// round trip's time (ns) in s. *seq is the last number sent. The waits are
// raw system calls: the thread keeps its P while it sleeps, and nothing is
// handed around.
//
//go:nosplit
func FutexPingPongs(req, resp, seq *uint32, s *Samples, end int64) (int, error) {
	n := 0
	for !s.Full() {
		t0 := nanotime()
		if t0 >= end {
			break
		}
		*seq++
		atomic.StoreUint32(req, *seq)
		if e := futexNS(req, futexWake, 1); e != 0 {
			return n, loopErr("futex wake", e)
		}
		for {
			v := atomic.LoadUint32(resp)
			if v == *seq {
				break
			}
			if e := futexNS(resp, futexWait, uintptr(v)); e != 0 && e != syscall.EAGAIN && e != syscall.EINTR {
				return n, loopErr("futex wait", e)
			}
		}
		s.Add(nanotime() - t0)
		n++
	}
	return n, nil
}

// FutexRelay is the answering side: each new number in *req is copied to
// *resp and the pinging side woken, until *done is non-zero after a wakeup.
//
//go:nosplit
func FutexRelay(req, resp, done *uint32) error {
	var last uint32
	for {
		v := atomic.LoadUint32(req)
		if v == last {
			if e := futexNS(req, futexWait, uintptr(v)); e != 0 && e != syscall.EAGAIN && e != syscall.EINTR {
				return loopErr("futex wait", e)
			}
			continue
		}
		if atomic.LoadUint32(done) != 0 {
			return nil
		}
		last = v
		atomic.StoreUint32(resp, v)
		if e := futexNS(resp, futexWake, 1); e != 0 {
			return loopErr("futex wake", e)
		}
	}
}
