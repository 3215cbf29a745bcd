package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"

	"github.com/kvet/kvet/results"
)

// Real-QEMU tests need qemu-system-x86_64 and a kernel .deb named by
// KVET_TEST_DEB (a Debian cloud kernel with virtio built in, such as 6.12
// cloud). They skip without them unless KVET_REQUIRE_INTEGRATION=1.

func needIntegration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test in -short mode")
	}
	required := os.Getenv("KVET_REQUIRE_INTEGRATION") == "1"
	miss := func(why string) {
		if required {
			t.Fatalf("integration required but %s", why)
		}
		t.Skip(why)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		miss("qemu-system-x86_64 not found")
	}
	if os.Getenv("KVET_TEST_DEB") == "" {
		miss("KVET_TEST_DEB not set")
	}
}

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// fixture extracts the kernel and builds the tiny init once per test binary.
func fixture(t testing.TB) (vmlinuz, tinyinit string) {
	t.Helper()
	needIntegration(t)
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "kvet-runner-test-")
		if fixtureErr != nil {
			return
		}
		sh := "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" ./boot"
		if out, err := exec.Command("sh", "-c", sh, "sh", os.Getenv("KVET_TEST_DEB"), fixtureDir).CombinedOutput(); err != nil {
			fixtureErr = fmt.Errorf("extract %s: %v: %s", os.Getenv("KVET_TEST_DEB"), err, out)
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(fixtureDir, "tinyinit"), "./testdata/tinyinit")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fixtureErr = fmt.Errorf("build tinyinit: %v: %s", err, out)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	m, _ := filepath.Glob(filepath.Join(fixtureDir, "boot", "vmlinuz-*"))
	if len(m) != 1 {
		t.Fatalf("vmlinuz in %s: found %v", os.Getenv("KVET_TEST_DEB"), m)
	}
	return m[0], filepath.Join(fixtureDir, "tinyinit")
}

// initramfs writes a newc archive with init as /init.
func initramfs(t testing.TB, init string) string {
	t.Helper()
	data, err := os.ReadFile(init)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "initrd.cpio")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := cpio.Newc.Writer(f)
	recs := []cpio.Record{
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("proc", 0o755),
		cpio.Directory("sys", 0o755),
		cpio.StaticRecord(data, cpio.Info{Name: "init", Mode: cpio.S_IFREG | 0o755}),
	}
	if err := cpio.WriteRecords(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func noQEMULeft(t *testing.T) {
	t.Helper()
	out, _ := exec.Command("pgrep", "-a", "-P", strconv.Itoa(os.Getpid())).Output()
	if strings.Contains(string(out), "qemu") {
		t.Errorf("qemu processes left behind:\n%s", out)
	}
}

func TestBootReal(t *testing.T) {
	vmlinuz, tiny := fixture(t)
	initrd := initramfs(t, tiny)
	tests := []struct {
		name    string
		append  string
		timeout time.Duration
		want    results.Outcome
		reason  string // substring of the reason
	}{
		{"ok", "", 2 * time.Minute, results.OK, ""},
		{"no init", "rdinit=/nonexistent", 2 * time.Minute, results.KernelPanic, "Kernel panic"},
		{"hang", "kvet.tiny=hang", 20 * time.Second, results.Hang, "within 20s"},
		{"power off without done", "kvet.tiny=nodone", 2 * time.Minute, results.AgentError, "without a done"},
		{"corrupt frame", "kvet.tiny=corrupt", 2 * time.Minute, results.AgentError, "corrupt frame"},
		{"error frame", "kvet.tiny=error", 2 * time.Minute, results.AgentError, "tiny failed on purpose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer noQEMULeft(t)
			dir := t.TempDir()
			start := time.Now()
			b := Boot(context.Background(), BootSpec{
				Kernel: vmlinuz, Initrd: initrd, Append: tt.append, Accel: "tcg",
				CPUs: 1, MemoryMB: 512, Timeout: tt.timeout, WorkDir: dir,
				ConsolePath: filepath.Join(dir, "console.log"),
				Plan:        wirePlan(),
				Logger:      testLogger(t),
			})
			took := time.Since(start)
			if b.Outcome != tt.want || !strings.Contains(b.Reason, tt.reason) {
				t.Fatalf("Boot(%s) = %s %q, want %s %q\nconsole:\n%s", tt.name, b.Outcome, b.Reason, tt.want, tt.reason, b.ConsoleTail)
			}
			t.Logf("%s: wall %v, first frame %v, host overhead %v, total %v", tt.name, b.Wall, b.FirstFrame, b.HostOverhead, took)
			if tt.want == results.OK {
				if b.Release == "" || b.FirstFrame <= 0 || b.Facts["plan"] == "" || len(b.Log) != 1 {
					t.Errorf("Boot(ok) = release %q, first frame %v, facts %v, log %q; want all filled", b.Release, b.FirstFrame, b.Facts, b.Log)
				}
				if b.ConsoleTail != "" {
					t.Errorf("Boot(ok).ConsoleTail = %q, want empty", b.ConsoleTail)
				}
			} else if b.ConsoleTail == "" && tt.want == results.KernelPanic {
				t.Errorf("Boot(%s).ConsoleTail is empty", tt.name)
			}
			if tt.want == results.Hang && took > tt.timeout+15*time.Second {
				t.Errorf("Boot(hang) took %v, timeout %v", took, tt.timeout)
			}
		})
	}
}

func TestChooseAccelReal(t *testing.T) {
	vmlinuz, tiny := fixture(t)
	if _, err := os.Stat(kvmDevice); err != nil {
		t.Skip("no /dev/kvm: the fallback is the only path")
	}
	initrd := initramfs(t, tiny)
	probe := BootSpec{Kernel: vmlinuz, Initrd: initrd, CPUs: 1, MemoryMB: 512, Logger: testLogger(t)}
	defer noQEMULeft(t)
	// This machine's KVM is known broken (nested); on a host where the probe
	// passes, both answers are kvm.
	accel, warn, err := ChooseAccel(context.Background(), "kvm", probe)
	t.Logf("ChooseAccel(kvm) = %q, %q, %v", accel, warn, err)
	kvmWorks := err == nil
	if kvmWorks && accel != "kvm" {
		t.Fatalf("ChooseAccel(kvm) = %q, nil, want kvm", accel)
	}
	if !kvmWorks && !strings.Contains(err.Error(), "--accel tcg") {
		t.Errorf("ChooseAccel(kvm) error %q does not suggest --accel tcg", err)
	}
	accel, warn, err = ChooseAccel(context.Background(), "auto", probe)
	t.Logf("ChooseAccel(auto) = %q, %q, %v", accel, warn, err)
	switch {
	case err != nil:
		t.Errorf("ChooseAccel(auto) error %v, want none", err)
	case kvmWorks && (accel != "kvm" || warn != ""):
		t.Errorf("ChooseAccel(auto) = %q, %q, want kvm without warning", accel, warn)
	case !kvmWorks && (accel != "tcg" || !strings.Contains(warn, "falling back")):
		t.Errorf("ChooseAccel(auto) = %q, %q, want tcg with a warning", accel, warn)
	}
}
