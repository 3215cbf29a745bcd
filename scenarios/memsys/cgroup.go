// Package memsys is what the memory scenarios need of the kernel: cgroup v2
// groups with memory limits and their counters, pressure stall
// information, swap devices (zram, or a disk or a file), the scratch disk a
// boot may carry, and child processes in given roles (holding, streaming,
// leaking memory) started straight into a group.
package memsys

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// CgroupRoot is where kvet mounts the unified hierarchy when the system
// has none mounted (a kvet guest).
const CgroupRoot = "/sys/fs/cgroup"

var (
	rootMu sync.Mutex
	root   string // the unified hierarchy's mount point, once found
)

// MountCgroup2 finds the unified hierarchy (cgroup v2) and enables the
// memory controller for its children. A system that has it mounted keeps
// it where it is; one that has none (a kvet guest) gets it at CgroupRoot,
// but only where nothing is mounted yet: a host's own cgroup tree (v1, or
// hybrid with v2 at /sys/fs/cgroup/unified) is never covered.
func MountCgroup2() error {
	rootMu.Lock()
	defer rootMu.Unlock()
	if root == "" {
		r, err := unifiedMount("/proc/self/mountinfo")
		if err != nil {
			return err
		}
		if r == "" {
			if mounted, err := isMountPoint("/proc/self/mountinfo", CgroupRoot); err != nil || mounted {
				return fmt.Errorf("cgroup2: no unified hierarchy mounted, and %s holds another (cgroup v1): boot with systemd.unified_cgroup_hierarchy=1", CgroupRoot)
			}
			if err := os.MkdirAll(CgroupRoot, 0o755); err != nil {
				return fmt.Errorf("cgroup2: %w", err)
			}
			if err := unix.Mount("cgroup2", CgroupRoot, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("cgroup2: mount on %s: %w (a kernel without CONFIG_CGROUPS?)", CgroupRoot, err)
			}
			r = CgroupRoot
		}
		root = r
	}
	return (&Cgroup{Path: root}).enableMemory()
}

// Root is the unified hierarchy's mount point (after MountCgroup2).
func Root() string {
	rootMu.Lock()
	defer rootMu.Unlock()
	if root == "" {
		return CgroupRoot
	}
	return root
}

// unifiedMount is the first cgroup2 mount point in a mountinfo file, ""
// when there is none.
func unifiedMount(mountinfo string) (string, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return "", fmt.Errorf("cgroup2: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" {
			return unescapeMount(f[4]), nil
		}
	}
	return "", nil
}

// isMountPoint reports whether something is mounted at dir.
func isMountPoint(mountinfo, dir string) (bool, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return false, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 5 && unescapeMount(f[4]) == dir {
			return true, nil
		}
	}
	return false, nil
}

// unescapeMount undoes mountinfo's octal escapes of spaces and the like.
func unescapeMount(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Cgroup is one group of the unified hierarchy.
type Cgroup struct{ Path string }

// NewCgroup creates the group name under parent (the hierarchy's root when nil),
// with the memory controller enabled in parent for it. A group left over
// from an earlier run is removed first.
func NewCgroup(parent *Cgroup, name string) (*Cgroup, error) {
	if parent == nil {
		parent = &Cgroup{Path: Root()}
	}
	if err := parent.enableMemory(); err != nil {
		return nil, err
	}
	c := &Cgroup{Path: filepath.Join(parent.Path, name)}
	if _, err := os.Stat(c.Path); err == nil {
		if err := c.Remove(); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(c.Path, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", c.Path, err)
	}
	return c, nil
}

func (c *Cgroup) enableMemory() error {
	ctl, err := c.Read("cgroup.subtree_control")
	if err != nil {
		return err
	}
	if strings.Contains(" "+ctl+" ", " memory ") {
		return nil
	}
	if err := c.Set("cgroup.subtree_control", "+memory"); err != nil {
		return fmt.Errorf("%w (is the memory controller available to cgroup v2? see %s)", err, filepath.Join(c.Path, "cgroup.controllers"))
	}
	return nil
}

// Set writes a control file.
func (c *Cgroup) Set(file, value string) error {
	if err := os.WriteFile(filepath.Join(c.Path, file), []byte(value), 0); err != nil {
		return fmt.Errorf("cgroup: %s = %s: %w", filepath.Join(c.Path, file), value, err)
	}
	return nil
}

// Read reads a control file, trimmed.
func (c *Cgroup) Read(file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(c.Path, file))
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Int reads a control file holding one number ("max" reads as -1).
func (c *Cgroup) Int(file string) (int64, error) {
	s, err := c.Read(file)
	if err != nil {
		return 0, err
	}
	if s == "max" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cgroup: %s: %q is not a number", filepath.Join(c.Path, file), s)
	}
	return v, nil
}

// Keyed reads a flat keyed file ("key value" lines: memory.events,
// memory.stat).
func (c *Cgroup) Keyed(file string) (map[string]int64, error) {
	return readKeyed(filepath.Join(c.Path, file))
}

func readKeyed(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// Pressure reads the group's memory.pressure.
func (c *Cgroup) Pressure() (Pressure, error) {
	return ReadPressure(filepath.Join(c.Path, "memory.pressure"))
}

// FD opens the group for clone3's CLONE_INTO_CGROUP (SysProcAttr.CgroupFD).
func (c *Cgroup) FD() (int, error) {
	fd, err := unix.Open(c.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("cgroup %s: %w", c.Path, err)
	}
	return fd, nil
}

// Procs lists the group's processes.
func (c *Cgroup) Procs() ([]int, error) {
	s, err := c.Read("cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// Remove kills what is left in the group and its children and removes
// them, waiting up to 5 s for the processes to go.
func (c *Cgroup) Remove() error {
	entries, _ := os.ReadDir(c.Path)
	for _, e := range entries {
		if e.IsDir() {
			(&Cgroup{Path: filepath.Join(c.Path, e.Name())}).Remove()
		}
	}
	if err := c.Set("cgroup.kill", "1"); err != nil {
		// Before Linux 5.14: kill one by one.
		pids, _ := c.Procs()
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(c.Path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("cgroup: remove %s: %w", c.Path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pressure is one resource's pressure stall information: the total time,
// in microseconds since boot, in which some task, and all non-idle tasks,
// stalled on it.
type Pressure struct {
	Some, Full int64
}

// Sub is p - o.
func (p Pressure) Sub(o Pressure) Pressure {
	return Pressure{Some: p.Some - o.Some, Full: p.Full - o.Full}
}

// ReadPressure reads a pressure file (/proc/pressure/memory,
// CGROUP/memory.pressure):
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=1234
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=567
func ReadPressure(path string) (Pressure, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Pressure{}, fmt.Errorf("psi: %w (a kernel without CONFIG_PSI, or psi=0)", err)
	}
	return parsePressure(string(b))
}

func parsePressure(s string) (Pressure, error) {
	var p Pressure
	var seen int
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var total int64 = -1
		for _, kv := range f[1:] {
			if v, ok := strings.CutPrefix(kv, "total="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return p, fmt.Errorf("psi: %q: bad total", line)
				}
				total = n
			}
		}
		if total < 0 {
			return p, fmt.Errorf("psi: %q: no total", line)
		}
		switch f[0] {
		case "some":
			p.Some = total
			seen++
		case "full":
			p.Full = total
			seen++
		}
	}
	if seen == 0 {
		return p, errors.New("psi: no some or full line")
	}
	return p, nil
}
