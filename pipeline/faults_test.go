package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kvet/kvet/results"
)

// A run directory that cannot be written (a full disk, an I/O error) is an
// infrastructure failure and leaves nothing half made; one that holds a run
// already is bad input.
func TestRunDirErrors(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked")
	os.MkdirAll(blocked, 0o755)
	os.WriteFile(filepath.Join(blocked, results.BootsDir), nil, 0o644) // boots/ cannot be made
	_, err := results.CreateDir(blocked, &results.Run{ID: "r"})
	if err == nil || KindOf(runDirError(err)) != Infra {
		t.Errorf("CreateDir(unwritable) = %v, kind %v; want an infrastructure error", err, KindOf(runDirError(err)))
	}
	if _, err := os.Stat(filepath.Join(blocked, results.ConsoleDir)); err == nil {
		t.Errorf("CreateDir(unwritable) left console/ behind")
	}
	ok := filepath.Join(dir, "ok")
	if _, err := results.CreateDir(ok, &results.Run{ID: "r"}); err != nil {
		t.Fatal(err)
	}
	_, err = results.CreateDir(ok, &results.Run{ID: "r"})
	if KindOf(runDirError(err)) != BadInput || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("CreateDir(existing run) = %v, want bad input", err)
	}
}

func TestDiskFaultsAreInfrastructure(t *testing.T) {
	for _, err := range []error{
		&os.PathError{Op: "write", Path: "/cache/extracted/x/vmlinuz", Err: syscall.ENOSPC},
		fmt.Errorf("image for a: %w", &os.PathError{Op: "write", Path: "/cache/images/x.cpio", Err: syscall.EDQUOT}),
		&os.PathError{Op: "open", Path: "/cache/debs/x.deb", Err: syscall.EIO},
	} {
		if k := KindOf(KernelError("a", err)); k != Infra {
			t.Errorf("KernelError(%v) kind = %v, want infrastructure", err, k)
		}
	}
	err := KernelError("a", &os.PathError{Op: "open", Path: "a.deb", Err: syscall.ENOENT})
	if KindOf(err) != BadInput || err.Error() != "kernel a: open a.deb: no such file or directory" {
		t.Errorf("KernelError(missing file) = %v (kind %v), want bad input", err, KindOf(err))
	}
	if err := KernelError("a", fmt.Errorf("kernel a: deb: bad")); err.Error() != "kernel a: deb: bad" {
		t.Errorf("KernelError repeats the kernel: %v", err)
	}
}

func TestResumePoolKeepsTheRecordedPool(t *testing.T) {
	rec := &results.Run{Parallel: 1}
	for _, tt := range []struct {
		name     string
		opts     Options
		kept     bool
		parallel int
	}{
		{"no flags", Options{}, true, 1},
		{"--parallel 2", Options{Parallel: 2}, false, 2},
		{"--isolate", Options{Isolate: true}, false, 0},
	} {
		o := tt.opts
		if kept := resumePool(&o, rec); kept != tt.kept || o.Parallel != tt.parallel {
			t.Errorf("resumePool(%s) = %v, parallel %d; want %v, %d", tt.name, kept, o.Parallel, tt.kept, tt.parallel)
		}
	}
	o := Options{}
	resumePool(&o, rec)
	if parallel, _, _, err := poolShape(o.Parallel, 0, o.Isolate, 1); err != nil || parallel != 1 {
		t.Errorf("poolShape after resume = %d, %v; want 1 guest as recorded", parallel, err)
	}
}
