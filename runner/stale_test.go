package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestCleanStale(t *testing.T) {
	dir := t.TempDir()
	// A process that has exited: its pid is free until reused.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	live := strconv.Itoa(os.Getpid())
	parent := strconv.Itoa(os.Getppid())
	names := map[string]bool{ // name -> removed
		workDirTag + dead + "-123": true,
		sockDirTag + dead + "-456": true,
		workDirTag + live + "-1":   false, // this process's own
		sockDirTag + parent + "-2": false, // a live process's
		workDirTag + "789":         false, // no owner in the name
		"kvet-it-" + dead + "-1":   false, // not a boot directory
		workDirTag + "x-1":         false,
	}
	for n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n, "sub", "qmp.sock"), nil, 0o644)
	}
	want := 0
	for _, gone := range names {
		if gone {
			want++
		}
	}
	if got := CleanStale(dir); got != want {
		t.Errorf("CleanStale = %d, want %d", got, want)
	}
	for n, gone := range names {
		_, err := os.Stat(filepath.Join(dir, n))
		if gone && err == nil {
			t.Errorf("%s left behind", n)
		}
		if !gone && err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}
