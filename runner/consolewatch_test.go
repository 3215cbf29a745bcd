package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

func TestWatchConsoleFindsSplitPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	stop, found := make(chan struct{}), make(chan struct{})
	defer close(stop)
	go watchConsole(path, stop, found)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("[    2.7] Run /init as init process\n[    2.8] Kernel pan")
	select {
	case <-found:
		t.Fatal("watchConsole found a panic in a console without one")
	case <-time.After(3 * consolePoll):
	}
	f.WriteString("ic - not syncing: Attempted to kill init! exitcode=0x00000100\n")
	select {
	case <-found:
	case <-time.After(time.Minute):
		t.Fatal("watchConsole did not see a panic split across two writes")
	}
}

// TestBootPanicZero boots a kernel that panics with panic=0, which leaves
// the guest spinning with no QMP event: the console alone ends the boot.
func TestBootPanicZero(t *testing.T) {
	vmlinuz, initrd := fixture(t)
	defer noQEMULeft(t)
	dir := t.TempDir()
	timeout := 10 * time.Minute
	start := time.Now()
	b := Boot(context.Background(), BootSpec{
		Kernel: vmlinuz, Initrd: initrd, Append: "rdinit=/nonexistent panic=0", Accel: "tcg",
		CPUs: 1, MemoryMB: 512, Timeout: timeout, WorkDir: dir,
		ConsolePath: filepath.Join(dir, "console.log"), Plan: wirePlan(), Logger: testLogger(t),
	})
	took := time.Since(start)
	if b.Outcome != results.KernelPanic || !strings.Contains(b.Reason, "Kernel panic - not syncing") {
		t.Fatalf("Boot(panic=0) = %s %q, want kernel-panic\nconsole:\n%s", b.Outcome, b.Reason, b.ConsoleTail)
	}
	// The panic comes about 3 s into a TCG boot; the boot ends within the
	// console poll and the panic grace, not at the timeout. A loaded host
	// gets a generous bound.
	if took > 3*time.Minute {
		t.Errorf("Boot(panic=0) took %v, want far less than the %v timeout", took, timeout)
	}
	t.Logf("Boot(panic=0) took %v (wall %v): %s", took, b.Wall, b.Reason)
}
