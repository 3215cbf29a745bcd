package measure

import (
	"sync/atomic"
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
// FUTEX_WAIT_PRIVATE, through the runtime's system-call path (a raw wait
// that kept its P made pipe's cross-CPU rate swing tenfold on a loaded
// host; see pipe's Checked against in the scenario reference). It returns nil when woken, when *addr already differs (EAGAIN) or on a signal
// (EINTR); callers re-check their condition in a loop.
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
