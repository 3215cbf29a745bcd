package memsys

import (
	"os"
	"path/filepath"
	"testing"
)

func TestKnob(t *testing.T) {
	path := filepath.Join(t.TempDir(), "swappiness")
	read := func() string {
		t.Helper()
		s, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	os.WriteFile(path, []byte("60\n"), 0o644)
	k := &Knob{Path: path}
	// Restore without Set leaves the file alone.
	if err := k.Restore(); err != nil || read() != "60" {
		t.Fatalf("Restore before Set: %v, file %q; want nil, 60", err, read())
	}
	if err := k.Set("10"); err != nil || read() != "10" {
		t.Fatalf("Set(10): %v, file %q; want 10", err, read())
	}
	// A second Set keeps the first original, not the value set by the first.
	if err := k.Set("200"); err != nil || read() != "200" {
		t.Fatalf("Set(200): %v, file %q; want 200", err, read())
	}
	if err := k.Restore(); err != nil || read() != "60" {
		t.Errorf("Restore: %v, file %q; want the original 60", err, read())
	}
	// Restored once: a second Restore does not write again.
	os.WriteFile(path, []byte("33\n"), 0o644)
	if err := k.Restore(); err != nil || read() != "33" {
		t.Errorf("second Restore: %v, file %q; want it left at 33", err, read())
	}
	// After a Restore, Set remembers the value found then.
	if err := k.Set("1"); err != nil {
		t.Fatal(err)
	}
	if err := k.Restore(); err != nil || read() != "33" {
		t.Errorf("Set and Restore again: %v, file %q; want 33", err, read())
	}

	missing := &Knob{Path: filepath.Join(t.TempDir(), "missing")}
	if err := missing.Set("1"); err == nil {
		t.Errorf("Set on a missing file: no error")
	}
	if err := missing.Restore(); err != nil {
		t.Errorf("Restore after a failed Set: %v, want nil (nothing to restore)", err)
	}
	if _, err := os.Stat(missing.Path); !os.IsNotExist(err) {
		t.Errorf("a failed Set and Restore created %s", missing.Path)
	}
}
