// Package integration boots real Debian kernels in real QEMU through the
// kvet binary, the way a user runs it. The kernels come through kvet's own
// archive client (the host's apt sources). Without QEMU the tests skip,
// unless KVET_REQUIRE_INTEGRATION=1 (CI), where they fail.
package integration

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
)

var (
	kvetBin  string // the static kvet binary under test
	setupErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "kvet-it-")
	if err != nil {
		panic(err)
	}
	kvetBin = filepath.Join(dir, "kvet")
	cmd := exec.Command("go", "build", "-o", kvetBin, "github.com/kvet/kvet/cmd/kvet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		setupErr = fmt.Errorf("building kvet: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips (or, in CI, fails) when QEMU is missing.
func need(t *testing.T) {
	t.Helper()
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		if os.Getenv("KVET_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("qemu-system-x86_64 is required (KVET_REQUIRE_INTEGRATION=1): %v", err)
		}
		t.Skip("qemu-system-x86_64 not installed")
	}
	// This test's QEMU processes are those whose command line names a path
	// under the test's own temporary directory (the console log).
	root := filepath.Dir(t.TempDir())
	t.Cleanup(func() { noQEMULeft(t, root) })
}

// The kernels the tests boot, fetched once through kvet's own archive client.
var (
	kernelOnce sync.Once
	kernelDebs map[string]string
	kernelErr  error
)

// Kernel packages used by the tests (meta-packages resolve to the newest).
var testPackages = map[string]string{
	"6.1":     "linux-image-cloud-amd64",
	"6.12":    "linux-image-6.12-cloud-amd64",
	"6.12-rt": "linux-image-6.12-rt-amd64",
}

// kernelDeb returns the cached .deb of a test kernel ("6.1", "6.12", "6.12-rt").
func kernelDeb(t *testing.T, name string) string {
	t.Helper()
	kernelOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cache, err := cacheDir()
		if err != nil {
			kernelErr = err
			return
		}
		r := &kernels.Resolver{CacheDir: cache, Logger: slog.New(slog.DiscardHandler)}
		kernelDebs = map[string]string{}
		for n, pkg := range testPackages {
			pvs, err := r.Lookup(ctx, kernels.Spec{Name: n, Package: pkg})
			if err != nil || len(pvs) != 1 {
				kernelErr = fmt.Errorf("resolving %s: %d versions, %v", pkg, len(pvs), err)
				return
			}
			pv := pvs[0]
			if pv.Resolved != nil {
				pv = *pv.Resolved
			}
			deb, err := r.Fetch(ctx, pv)
			if err != nil {
				kernelErr = fmt.Errorf("fetching %s: %w", pkg, err)
				return
			}
			kernelDebs[n] = deb
		}
	})
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	return kernelDebs[name]
}

func cacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kvet"), nil
	}
	d, err := os.UserCacheDir()
	return filepath.Join(d, "kvet"), err
}

type result struct {
	code           int
	pid            int // the kvet process's
	stdout, stderr string
	took           time.Duration
}

// kvet runs the kvet binary with a time limit. A "kvet run --out DIR" whose
// guest died of a known emulator artefact (see tcgArtefact) is run once
// more into a fresh DIR: the tests must not depend on TCG's luck, and a
// kernel fault kvet caused would come back the second time.
func kvet(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	r := kvetOnce(t, limit, args...)
	out := argAfter(args, "--out")
	if len(args) == 0 || args[0] != "run" || out == "" {
		return r
	}
	if why := tcgArtefact(out); why != "" {
		t.Logf("kvet %s: %s; running it again", strings.Join(args, " "), why)
		os.RemoveAll(out)
		r = kvetOnce(t, limit, args...)
	}
	return r
}

// argAfter returns the value of flag in args, or "".
func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// tcgArtefact says which boot of the run in dir died of an oops that TCG's
// multi-threaded translation of the kernel's live code patching causes (an
// int3 the kernel did not place, seen in sched_clock_cpu, which oopses in
// interrupt context), or "". The tests' kernels are released Debian kernels
// that do not oops so on hardware; one kvet made oops does so again.
func tcgArtefact(dir string) string {
	d, _, err := results.OpenDir(dir)
	if err != nil {
		return ""
	}
	boots, err := d.Boots()
	if err != nil {
		return ""
	}
	// Traced boots too: turning tracepoints on patches kernel text.
	traced, _ := d.TracedBoots()
	for _, b := range append(boots, traced...) {
		if b.Accel != "tcg" || !b.Outcome.KernelFault() {
			continue
		}
		// The whole console: the oops line can be above the tail.
		file := results.ConsoleFile(b.Kernel, b.Index)
		if b.Traced {
			file = results.TracedConsoleFile(b.Kernel, b.Index)
		}
		console, _ := os.ReadFile(filepath.Join(dir, file))
		text := string(console) + b.ConsoleTail
		if strings.Contains(text, "Oops: int3") || strings.Contains(text, "Fatal exception in interrupt") {
			return fmt.Sprintf("boot %s died of an oops TCG is known to cause:\n%s", b.Key(), tail(text, 40))
		}
	}
	return ""
}

// kvetOnce runs the kvet binary once with a time limit.
func kvetOnce(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, kvetBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A test binary that dies (a timeout's panic, a killed CI job) takes
	// its kvet with it, and kvet its guests: nothing outlives the suite.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	runtime.LockOSThread() // Pdeathsig follows the forking thread
	err := cmd.Start()
	runtime.UnlockOSThread()
	if err == nil {
		err = cmd.Wait()
	}
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("kvet %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("kvet %s: did not finish within %s\nstderr:\n%s", strings.Join(args, " "), limit, r.stderr)
	}
	t.Logf("kvet %s: exit %d in %s", strings.Join(args, " "), r.code, r.took.Round(time.Millisecond))
	return r
}

// noQEMULeft fails when a QEMU process started by kvet is still alive.
func noQEMULeft(t *testing.T, root string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := qemuProcesses(root)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("QEMU processes left behind: %v", left)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func qemuProcesses(root string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if strings.Contains(args[0], "qemu-system") && strings.Contains(string(b), "org.kvet.0") && strings.Contains(string(b), root) {
			out = append(out, e.Name())
		}
	}
	return out
}

func readRun(t *testing.T, dir string) (*results.Run, []*results.Boot) {
	t.Helper()
	d, run, err := results.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	boots, err := d.Boots()
	if err != nil {
		t.Fatal(err)
	}
	return run, boots
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// says reports whether a report says phrase, however its lines were
// wrapped to the terminal's width.
func says(report, phrase string) bool {
	return strings.Contains(strings.Join(strings.Fields(report), " "), phrase)
}
