package measure

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The measured calls go straight to the kernel. A system call made through
// the Go runtime (syscall.Syscall, which unix.Read and friends use) enters
// the scheduler: the P is marked in a system call, sysmon polls every 20 us
// while one is, retakes the P of a call that blocks and hands it to another
// thread, and the caller must get a P back on return. In a guest that made
// kvet's own non-measuring threads wake thousands of times a second during
// a window. A raw system call is, for the runtime, ordinary code running on
// its P: nothing is handed off and sysmon backs off to its idle period.
// The price is that a thread blocked in one holds its P, so the process
// keeps more Ps than threads that may block at once (ReserveProcs).

// nanotime is the runtime's CLOCK_MONOTONIC reading through the vDSO: no
// system call and no scheduler.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// RawRead is read(2) without the Go scheduler.
func RawRead(fd int, b []byte) (int, unix.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), e
}

// RawWrite is write(2) without the Go scheduler.
func RawWrite(fd int, b []byte) (int, unix.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), e
}

// ReserveProcs raises GOMAXPROCS so that threads goroutines blocked in raw
// system calls (each holding a P) still leave Ps for the rest of the
// process, and returns the previous value.
func ReserveProcs(threads int) int {
	prev := runtime.GOMAXPROCS(0)
	if want := max(threads+2, runtime.NumCPU()+2); prev < want {
		runtime.GOMAXPROCS(want)
	}
	return prev
}
