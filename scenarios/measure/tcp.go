package measure

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
func Accept(lfd int) (int, error) {
	for {
		fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("accept: %w", err)
		}
		return fd, nil
	}
}

// Dial opens a blocking TCP connection to 127.0.0.1:port. Options that must
// hold from the first segment (TCP_NODELAY, TCP_CONGESTION) are set by the
// caller through setup, which runs before connect.
func Dial(port int, setup func(fd int) error) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if setup != nil {
		if err := setup(fd); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect 127.0.0.1:%d: %w", port, err)
	}
	return fd, nil
}

// SetNoDelay sets TCP_NODELAY explicitly, on or off.
func SetNoDelay(fd int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, v); err != nil {
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
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
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
