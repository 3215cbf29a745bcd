package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// allocated is the space the file at path takes on disk, in bytes.
func allocated(t *testing.T, path string) (size, onDisk int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skipf("no block count for %s", path)
	}
	return fi.Size(), st.Blocks * 512
}

func TestSparseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scratch.img")
	// A leftover with data in it is replaced.
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 64<<10)), 0o644); err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	if err := sparseFile(path, size); err != nil {
		t.Fatalf("sparseFile: %v", err)
	}
	got, onDisk := allocated(t, path)
	if got != size {
		t.Errorf("size %d, want %d", got, size)
	}
	// Sparse: nothing written, nothing allocated (a filesystem may keep a
	// block or so).
	if onDisk > 64<<10 {
		t.Errorf("%d bytes allocated, want a sparse file (~0)", onDisk)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	if _, err := f.ReadAt(b, 0); err != nil || strings.Trim(string(b), "\x00") != "" {
		t.Errorf("first bytes %q, %v; want zeros (the old content gone)", b[:16], err)
	}
	if err := sparseFile(filepath.Join(t.TempDir(), "missing", "scratch.img"), size); err == nil {
		t.Errorf("sparseFile in a missing directory: no error")
	}
}

// TestBootScratchDiskTooLarge: a scratch disk over the bound fails the boot
// before QEMU is started, saying why.
func TestBootScratchDiskTooLarge(t *testing.T) {
	work := t.TempDir()
	qemu := filepath.Join(t.TempDir(), "no-such-qemu")
	mb := MaxScratchDiskMB + 1
	b := Boot(context.Background(), BootSpec{QEMU: qemu, WorkDir: work, Timeout: 10 * time.Second, ScratchDiskMB: mb, Logger: testLogger(t)})
	want := fmt.Sprintf("scratch disk: %d MiB, at most %d", mb, MaxScratchDiskMB)
	if b.Outcome != results.InfraError || !strings.Contains(b.Reason, want) {
		t.Errorf("Boot(scratch disk %d MiB) = %s %q, want infra-error %q", mb, b.Outcome, b.Reason, want)
	}
	if _, err := os.Stat(filepath.Join(work, "scratch.img")); !os.IsNotExist(err) {
		t.Errorf("scratch.img: stat %v, want none made", err)
	}
}

// TestBootScratchDisk: QEMU (a stand-in) is given the scratch disk, a
// sparse file of the size asked for, which is gone when the boot ends.
func TestBootScratchDisk(t *testing.T) {
	if _, err := exec.LookPath("stat"); err != nil {
		t.Skip("no stat(1) for the stand-in to look at the disk with")
	}
	work := t.TempDir()
	img := filepath.Join(work, "scratch.img")
	seen := filepath.Join(t.TempDir(), "seen")
	qemu, _ := standIn(t, `echo "$@" > `+seen+`.args; stat -c '%s %b %B' `+img+` > `+seen+`; exit 3`)
	const mb = 300
	b := Boot(context.Background(), BootSpec{QEMU: qemu, WorkDir: work, Timeout: 10 * time.Second, ScratchDiskMB: mb, Logger: testLogger(t)})
	if !strings.Contains(b.Reason, "exit status 3") {
		t.Fatalf("Boot() = %s %q, want the stand-in started and exiting with status 3", b.Outcome, b.Reason)
	}
	args, err := os.ReadFile(seen + ".args")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(args), "file="+img+",") || !strings.Contains(string(args), "serial=kvet-scratch") {
		t.Errorf("QEMU's arguments %q: want the drive %s with serial kvet-scratch", args, img)
	}
	st, err := os.ReadFile(seen)
	f := strings.Fields(string(st))
	if err != nil || len(f) != 3 {
		t.Fatalf("the stand-in's stat of the scratch disk: %q, %v", st, err)
	}
	size, _ := strconv.ParseInt(f[0], 10, 64)
	blocks, _ := strconv.ParseInt(f[1], 10, 64)
	unit, _ := strconv.ParseInt(f[2], 10, 64)
	if size != mb<<20 {
		t.Errorf("scratch disk of %d bytes while QEMU ran, want %d", size, mb<<20)
	}
	if blocks*unit > 64<<10 {
		t.Errorf("scratch disk took %d bytes on disk, want a sparse file", blocks*unit)
	}
	if _, err := os.Stat(img); !os.IsNotExist(err) {
		t.Errorf("scratch disk after the boot: stat %v, want removed", err)
	}
}
