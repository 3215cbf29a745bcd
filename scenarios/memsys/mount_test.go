package memsys

import (
	"os"
	"path/filepath"
	"testing"
)

// A hybrid host (cgroup v1 controllers, v2 at /sys/fs/cgroup/unified), a
// pure v2 host, and a kvet guest before kvet mounts anything.
const (
	hybridMountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
`
	v2Mountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	guestMountinfo = `1 0 0:2 / / rw - rootfs rootfs rw
15 1 0:5 / /proc rw,nosuid - proc proc rw
16 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
`
	escapedMountinfo = `40 1 0:40 / /mnt/my\040cgroups rw - cgroup2 none rw
`
)

func TestUnifiedMount(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, info, want string
		cgroupMounted    bool
	}{
		{"hybrid", hybridMountinfo, "/sys/fs/cgroup/unified", true},
		{"v2", v2Mountinfo, "/sys/fs/cgroup", true},
		{"guest", guestMountinfo, "", false},
		{"escaped", escapedMountinfo, "/mnt/my cgroups", false},
	} {
		p := filepath.Join(dir, tt.name)
		os.WriteFile(p, []byte(tt.info), 0o644)
		got, err := unifiedMount(p)
		if err != nil || got != tt.want {
			t.Errorf("%s: unifiedMount = %q, %v; want %q", tt.name, got, err, tt.want)
		}
		// kvet mounts at CgroupRoot only where nothing is mounted.
		if m, err := isMountPoint(p, CgroupRoot); err != nil || m != tt.cgroupMounted {
			t.Errorf("%s: isMountPoint(%s) = %v, %v; want %v", tt.name, CgroupRoot, m, err, tt.cgroupMounted)
		}
	}
	if _, err := unifiedMount(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("unifiedMount of a missing file: no error")
	}
}

func TestParseMeminfo(t *testing.T) {
	m, err := parseMeminfo("MemTotal:        1004556 kB\nMemAvailable:     700000 kB\nHugePages_Total:       0\n")
	if err != nil || m["MemTotal"] != 1004556<<10 || m["MemAvailable"] != 700000<<10 || m["HugePages_Total"] != 0 {
		t.Errorf("parseMeminfo = %v, %v", m, err)
	}
	if _, err := parseMeminfo("MemFree: 12 kB\n"); err == nil {
		t.Errorf("no MemTotal: no error")
	}
	if _, err := parseMeminfo("MemTotal: lots kB\n"); err == nil {
		t.Errorf("a bad number: no error")
	}
}
