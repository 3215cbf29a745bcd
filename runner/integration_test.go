package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvet/kvet/images"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
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
	fixtureK    *kernels.Kernel
	fixtureErr  error
)

// testKernel extracts KVET_TEST_DEB and builds the tiny init once per test
// binary; it returns the kernel and a builder whose cache lives as long.
func testKernel(t testing.TB) (*kernels.Kernel, *images.Builder) {
	t.Helper()
	needIntegration(t)
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "kvet-runner-test-")
		if fixtureErr != nil {
			return
		}
		fixtureK, fixtureErr = kernels.FromDeb(context.Background(), os.Getenv("KVET_TEST_DEB"), fixtureDir)
		if fixtureErr != nil {
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
	return fixtureK, &images.Builder{CacheDir: fixtureDir, Logger: testLogger(t)}
}

// fixture returns the test kernel's vmlinuz and an image with the tiny init.
func fixture(t testing.TB) (vmlinuz, initrd string) {
	t.Helper()
	k, b := testKernel(t)
	return k.Vmlinuz, buildImage(t, b, k, filepath.Join(fixtureDir, "tinyinit"))
}

func buildImage(t testing.TB, b *images.Builder, k *kernels.Kernel, init string) string {
	t.Helper()
	img, err := b.Build(context.Background(), images.Spec{Init: init, Kernel: k, Modules: images.DefaultModules})
	if err != nil {
		t.Fatal(err)
	}
	return img.Path
}

func noQEMULeft(t *testing.T) {
	t.Helper()
	out, _ := exec.Command("pgrep", "-a", "-P", strconv.Itoa(os.Getpid())).Output()
	if strings.Contains(string(out), "qemu") {
		t.Errorf("qemu processes left behind:\n%s", out)
	}
}

func TestBootReal(t *testing.T) {
	vmlinuz, initrd := fixture(t)
	tests := []struct {
		name    string
		append  string
		timeout time.Duration
		want    results.Outcome
		reason  string // substring of the reason
	}{
		{"ok", "", 2 * time.Minute, results.OK, ""},
		{"no init", "rdinit=/nonexistent", 2 * time.Minute, results.KernelPanic, "Kernel panic"},
		{"panic after pvpanic", "kvet.tiny=sysrq", 2 * time.Minute, results.KernelPanic, "Kernel panic - not syncing: sysrq triggered crash"},
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
	vmlinuz, initrd := fixture(t)
	if _, err := os.Stat(kvmDevice); err != nil {
		t.Skip("no /dev/kvm: the fallback is the only path")
	}
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

var (
	kvetOnce sync.Once
	kvetBin  string
	kvetErr  error
)

// kvetBinary builds the static kvet binary from the module root once.
func kvetBinary(t testing.TB) string {
	t.Helper()
	kvetOnce.Do(func() {
		kvetBin = filepath.Join(fixtureDir, "kvet")
		cmd := exec.Command("go", "build", "-o", kvetBin, "./cmd/kvet")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			kvetErr = fmt.Errorf("build kvet: %v: %s", err, out)
		}
	})
	if kvetErr != nil {
		t.Fatal(kvetErr)
	}
	return kvetBin
}

// TestBootAgent boots the real agent with an empty plan and compares its
// time to the first frame with the tiny init's, over KVET_TEST_ROUNDS
// interleaved rounds (default 1).
func TestBootAgent(t *testing.T) {
	k, builder := testKernel(t)
	agent := buildImage(t, builder, k, kvetBinary(t))
	tiny := buildImage(t, builder, k, filepath.Join(fixtureDir, "tinyinit"))
	defer noQEMULeft(t)
	rounds, _ := strconv.Atoi(os.Getenv("KVET_TEST_ROUNDS"))
	first := map[string][]time.Duration{}
	for r := range max(rounds, 1) {
		for _, c := range []struct{ name, initrd string }{{"agent", agent}, {"tiny", tiny}} {
			dir := t.TempDir()
			b := Boot(context.Background(), BootSpec{
				Kernel: k.Vmlinuz, Initrd: c.initrd, Accel: "tcg", CPUs: 1, MemoryMB: 512,
				Timeout: 3 * time.Minute, WorkDir: dir, Plan: wire.Plan{Seed: 1, Profile: "quick"},
				Logger: testLogger(t),
			})
			if b.Outcome != results.OK {
				t.Fatalf("Boot(%s) = %s %q, want ok\nlog: %q\nconsole:\n%s", c.name, b.Outcome, b.Reason, b.Log, b.ConsoleTail)
			}
			if b.Release != k.Release {
				t.Errorf("Boot(%s).Release = %q, want %q", c.name, b.Release, k.Release)
			}
			t.Logf("round %d %s: first frame %v, wall %v, host overhead %v, facts %d, log %d lines", r, c.name, b.FirstFrame, b.Wall, b.HostOverhead, len(b.Facts), len(b.Log))
			first[c.name] = append(first[c.name], b.FirstFrame)
		}
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	a, ti := median(first["agent"]), median(first["tiny"])
	t.Logf("median first frame: agent %v, tiny init %v, ratio %.2f", a, ti, float64(a)/float64(ti))
}
