package scenarios

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// What a scenario may need of the machine it runs on, beyond a process of
// its own. In kvet's guests the agent is root and has them all; on a
// machine of the user's (kvet scenario) they may be missing.
const (
	// NeedFIFO: threads at SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO).
	NeedFIFO = "SCHED_FIFO"
	// needSysctl prefixes a sysctl the scenario writes (and restores).
	needSysctl = "write sysctl "
)

// NeedSysctl is the need to write a sysctl.
func NeedSysctl(name string) string { return needSysctl + name }

// Needs returns what the scenario needs with these parameters.
func (s Spec) Needs(params any) []string {
	if s.needs == nil {
		return nil
	}
	return s.needs(params)
}

// Missing returns the needs this process cannot meet here, each with the
// reason and what would meet it.
func Missing(needs []string) []string {
	var out []string
	for _, n := range needs {
		var err error
		switch {
		case n == NeedFIFO:
			err = canFIFO()
		case strings.HasPrefix(n, needSysctl):
			name := strings.TrimPrefix(n, needSysctl)
			path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
			if e := unix.Access(path, unix.W_OK); e != nil {
				err = fmt.Errorf("%s: %w (run as root, outside a read-only /proc/sys)", path, e)
			}
		default:
			err = errors.New("unknown need")
		}
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", n, err))
		}
	}
	return out
}

// canFIFO tries SCHED_FIFO on a thread of its own, which then exits.
func canFIFO() error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 1}
		done <- unix.SchedSetAttr(0, &attr, 0)
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("%w (run as root, or give CAP_SYS_NICE or an RLIMIT_RTPRIO)", err)
	}
	return nil
}
