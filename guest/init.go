package guest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/kmodule"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/internal/wire"
)

// portWait bounds the wait for the results port (modules may still be
// probing devices under TCG).
const portWait = 30 * time.Second

// Main runs the agent as PID 1. It never returns: whatever happens, it ends
// by powering the guest off, since a PID 1 that exits panics the kernel.
func Main() {
	var rw *os.File
	defer func() {
		if r := recover(); r != nil {
			fatal(rw, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	if err := pid1(&rw); err != nil {
		fatal(rw, err)
	}
	powerOff()
}

// fatal reports err on the port when it is open and on the console, then
// powers off.
func fatal(rw *os.File, err error) {
	consolef("kvet: fatal: %v", err)
	if rw != nil {
		wire.Write(rw, wire.Frame{Type: wire.TypeError, Payload: []byte(err.Error())})
	}
	powerOff()
}

func powerOff() {
	unix.Sync()
	for {
		err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		consolef("kvet: power off: %v", err)
		time.Sleep(time.Second)
	}
}

func consolef(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func pid1(rwp **os.File) error {
	ctx := context.Background()
	var logs []string
	logf := func(format string, args ...any) {
		l := fmt.Sprintf(format, args...)
		consolef("kvet: %s", l)
		logs = append(logs, l)
	}
	for _, err := range mountAll() {
		logf("%v", err)
	}
	openConsole()
	reaper := NewReaper(ctx)
	if err := loopbackUp(); err != nil {
		logf("%v", err)
	}
	for _, err := range loadModules(wire.ModulesFile) {
		logf("%v", err)
	}
	path, err := findPort(ctx, wire.PortName, portWait)
	if err != nil {
		return err
	}
	rw, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("results port: %w", err)
	}
	*rwp = rw
	release, _ := readFact("/", "/proc/sys/kernel/osrelease")
	a := &Agent{
		Version:  version(),
		Release:  release,
		CPUs:     runtime.NumCPU(),
		Runner:   &ExecRunner{Path: wire.InitPath, Reaper: reaper},
		Facts:    func() map[string]string { return Facts("/") },
		After:    func() map[string]string { return AfterFacts("/") },
		Sysctl:   setSysctl,
		Logs:     logs,
		Progress: consolef,
		Tracer:   &FtraceTracer{Root: "/", Mount: Mount},
	}
	err = a.Serve(ctx, rw)
	var pe *PlanError
	if errors.As(err, &pe) {
		// Already reported to the host, Done included.
		consolef("kvet: %v", err)
		return nil
	}
	return err
}

// version is the module version of the running binary.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
				v = s.Value
			}
		}
		if v != "" {
			return v
		}
	}
	return "unknown"
}

// mountAll mounts the filesystems the agent and scenarios use. An already
// mounted one is fine; the others are reported, not fatal: a kernel without
// debugfs still runs the scenarios.
func mountAll() []error {
	var errs []error
	for _, m := range []struct{ src, dir, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"debugfs", "/sys/kernel/debug", "debugfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("mount %s: %w", m.dir, err))
			continue
		}
		if err := unix.Mount(m.src, m.dir, m.fstype, unix.MS_NOSUID, ""); err != nil && err != unix.EBUSY {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err))
		}
	}
	return errs
}

// openConsole points stdout and stderr at /dev/console when the kernel could
// not (no /dev/console in the initramfs before devtmpfs was mounted), so
// scenario children and panics still reach the console.
func openConsole() {
	if _, err := unix.FcntlInt(1, unix.F_GETFD, 0); err == nil {
		return
	}
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	for _, to := range []int{0, 1, 2} {
		if to != fd {
			unix.Dup3(fd, to, 0)
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
}

// loopbackUp sets IFF_UP on lo: TCP scenarios run over loopback and nothing
// else in the guest would bring it up.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo: get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo: set flags: %w", err)
	}
	return nil
}

// loadModules loads the modules listed in file, in order, with their
// dependencies from modules.dep. A missing list means a kernel with
// everything built in.
func loadModules(file string) []error {
	names, err := readModuleList(file)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return []error{err}
	}
	if len(names) == 0 {
		return nil
	}
	p, err := kmodule.NewProber(kmodule.ProbeOpts{})
	if err != nil {
		return []error{fmt.Errorf("modules: %w", err)}
	}
	var errs []error
	for _, n := range names {
		if err := p.Probe(n, ""); err != nil {
			errs = append(errs, fmt.Errorf("module %s: %w", n, err))
		}
	}
	return errs
}

func readModuleList(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		names = append(names, l)
	}
	return names, sc.Err()
}

// findPort waits for the virtio-serial port called name and returns its
// device path.
func findPort(ctx context.Context, name string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		if p, ok := lookupPort("/", name); ok {
			return p, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("results port %s: not found after %v (virtio_console loaded? -device virtserialport,name=%s?)", name, wait, name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lookupPort finds /sys/class/virtio-ports/*/name == name under root and
// returns /dev/<that directory's name>, once the device node exists.
func lookupPort(root, name string) (string, bool) {
	dirs, _ := filepath.Glob(filepath.Join(root, "/sys/class/virtio-ports/*/name"))
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || strings.TrimSpace(string(b)) != name {
			continue
		}
		dev := filepath.Join(root, "/dev", filepath.Base(filepath.Dir(d)))
		if _, err := os.Stat(dev); err == nil {
			return dev, true
		}
	}
	return "", false
}

// setSysctl writes /proc/sys/NAME.
func setSysctl(name, value string) error {
	if strings.Contains(name, "..") || strings.ContainsAny(name, "/ ") {
		return fmt.Errorf("bad sysctl name %q", name)
	}
	return os.WriteFile(sysctlPath(name), []byte(value), 0)
}
