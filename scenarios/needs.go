package scenarios

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/scenarios/memsys"
)

// What a scenario may need of the machine it runs on, beyond a process of
// its own. In kvet's guests the agent is root and has them all; on a
// machine of the user's (kvet scenario) they may be missing.
const (
	// NeedFIFO: threads at SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO).
	NeedFIFO = "SCHED_FIFO"
	// NeedRoot: root (swap areas, zram, the OOM killer's settings).
	NeedRoot = "root"
	// NeedCgroup2: a writable cgroup v2 hierarchy with the memory
	// controller (mounted at /sys/fs/cgroup, or mountable there).
	NeedCgroup2 = "cgroup v2 memory controller"
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
		case n == NeedRoot:
			if os.Geteuid() != 0 {
				err = errors.New("not root (run it with sudo)")
			}
		case n == NeedCgroup2:
			err = canCgroup2()
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

// canCgroup2: the unified hierarchy is there (or can be mounted) and its
// memory controller can be enabled for a child group.
func canCgroup2() error {
	if err := memsys.MountCgroup2(); err != nil {
		return fmt.Errorf("%w (boot with systemd.unified_cgroup_hierarchy=1, run as root)", err)
	}
	return nil
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
