package measure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Loopback TCP through raw blocking sockets: every call is a plain system
// call on the calling (locked) thread, never Go's netpoller.

// Listen opens a blocking TCP listener on 127.0.0.1 at an ephemeral port and
// returns its descriptor and port.
func Listen(backlog int) (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("bind 127.0.0.1: %w", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("listen: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("getsockname: %w", err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

// Accept accepts one connection on a blocking listener, retrying on EINTR.
// The call is raw (see raw.go): a server waiting for its next connection
// (tcp-crr's, between transactions) holds its P instead of keeping the
// runtime's sysmon polling every 20 us and handing the P around.
func Accept(lfd int) (int, error) {
	for {
		fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, fmt.Errorf("accept: %w", e)
		}
		return int(fd), nil
	}
}

// Dial opens a blocking TCP connection to 127.0.0.1:port. Options that must
// hold from the first segment (TCP_NODELAY, TCP_CONGESTION) are set by the
// caller through setup, which runs before connect. socket and connect are
// raw system calls (see raw.go): tcp-crr dials inside its window.
func Dial(port int, setup func(fd int) error) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, fmt.Errorf("socket: %w", e)
	}
	fd := int(r)
	if setup != nil {
		if err := setup(fd); err != nil {
			Close(fd)
			return -1, err
		}
	}
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	sa.Port = uint16(port>>8) | uint16(port&0xff)<<8 // network byte order in memory
	for {
		_, _, e = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4)
		if e != unix.EINTR {
			break
		}
	}
	if e != 0 {
		Close(fd)
		return -1, fmt.Errorf("connect 127.0.0.1:%d: %w", port, e)
	}
	return fd, nil
}

// Close is close(2) as a raw system call.
func Close(fd int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return e
	}
	return nil
}

// setsockopt is setsockopt(2) as a raw system call.
func setsockopt(fd, level, opt int, val unsafe.Pointer, size uintptr) error {
	if _, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt), uintptr(val), size, 0); e != 0 {
		return e
	}
	return nil
}

// SetNoDelay sets TCP_NODELAY explicitly, on or off.
func SetNoDelay(fd int, on bool) error {
	var v int32
	if on {
		v = 1
	}
	if err := setsockopt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, unsafe.Pointer(&v), 4); err != nil {
		return fmt.Errorf("TCP_NODELAY=%d: %w", v, err)
	}
	return nil
}

// SetQuickAck sets TCP_QUICKACK; the kernel clears it again on its own, so
// it must be set before each read it should affect.
func SetQuickAck(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1); err != nil {
		return fmt.Errorf("TCP_QUICKACK: %w", err)
	}
	return nil
}

// SetLingerZero makes close send a reset instead of entering TIME_WAIT, so
// connection-rate loops do not exhaust ephemeral ports.
func SetLingerZero(fd int) error {
	l := unix.Linger{Onoff: 1, Linger: 0}
	if err := setsockopt(fd, unix.SOL_SOCKET, unix.SO_LINGER, unsafe.Pointer(&l), unix.SizeofLinger); err != nil {
		return fmt.Errorf("SO_LINGER 0: %w", err)
	}
	return nil
}

// SetCongestion pins the socket's congestion control algorithm.
func SetCongestion(fd int, cc string) error {
	if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc); err != nil {
		return fmt.Errorf("TCP_CONGESTION %s: %w", cc, err)
	}
	return nil
}

// Congestion returns the socket's congestion control algorithm.
func Congestion(fd int) (string, error) {
	s, err := unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	if err != nil {
		return "", fmt.Errorf("TCP_CONGESTION: %w", err)
	}
	return strings.TrimRight(s, "\x00"), nil
}

// TCPInfo returns the socket's tcp_info.
func TCPInfo(fd int) (*unix.TCPInfo, error) {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return nil, fmt.Errorf("TCP_INFO: %w", err)
	}
	return ti, nil
}

// ReadFull reads exactly len(b) bytes, through raw system calls. It returns ErrClosed when the peer
// closed (or reset) the connection before the first byte.
func ReadFull(fd int, b []byte) error {
	for off := 0; off < len(b); {
		n, err := RawRead(fd, b[off:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECONNRESET && off == 0 {
			return ErrClosed
		}
		if err != 0 {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			if off == 0 {
				return ErrClosed
			}
			return fmt.Errorf("read: peer closed after %d of %d bytes", off, len(b))
		}
		off += n
	}
	return nil
}

// ErrClosed is returned by ReadFull when the peer closed the connection
// cleanly between messages.
var ErrClosed = errors.New("connection closed by peer")

// errShortMessage: the peer closed the connection in the middle of a
// message.
var errShortMessage = errors.New("peer closed in the middle of a message")

// WriteAll writes all of b, through raw system calls.
func WriteAll(fd int, b []byte) error {
	for off := 0; off < len(b); {
		n, err := RawWrite(fd, b[off:])
		if err == unix.EINTR {
			continue
		}
		if err != 0 {
			return fmt.Errorf("write: %w", err)
		}
		off += n
	}
	return nil
}

// sysctlPath maps "net.ipv4.tcp_autocorking" to its /proc/sys file.
func sysctlPath(name string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
}

// ReadSysctl returns a sysctl's value, trimmed.
func ReadSysctl(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// WriteSysctl sets a sysctl.
func WriteSysctl(name, value string) error {
	if err := os.WriteFile(sysctlPath(name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
	}
	return nil
}
