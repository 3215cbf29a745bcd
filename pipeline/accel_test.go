package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvet/kvet/runner"
)

// TestChooseAccelRemembersAuto: an "auto" answer is kept for this boot of
// the host and QEMU version, and asked again when either changes.
func TestChooseAccelRemembersAuto(t *testing.T) {
	cache := t.TempDir()
	// A probe that cannot boot: KVM is missing, unusable, or the probe's
	// kernel does not exist; any of them falls back to TCG.
	probe := runner.BootSpec{QEMU: filepath.Join(t.TempDir(), "no-qemu"), Kernel: "/nonexistent", Initrd: "/nonexistent"}
	accel, warning, err := chooseAccel(context.Background(), "auto", cache, "QEMU 1", probe)
	if err != nil || accel != "tcg" || warning == "" {
		t.Fatalf("chooseAccel(auto) = %q, %q, %v; want tcg with a warning", accel, warning, err)
	}
	path := filepath.Join(cache, "accel-probe.json")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no remembered probe: %v", err)
	}
	accel, again, err := chooseAccel(context.Background(), "auto", cache, "QEMU 1", probe)
	if err != nil || accel != "tcg" || !strings.Contains(again, "delete "+path) {
		t.Errorf("second chooseAccel(auto) = %q, %q, %v; want the remembered tcg, saying how to probe again", accel, again, err)
	}
	// Another QEMU: probed again, and the new answer replaces the old.
	os.WriteFile(path, []byte(`{"key":"x","accel":"kvm"}`), 0o644)
	if accel, _, _ := chooseAccel(context.Background(), "auto", cache, "QEMU 2", probe); accel != "tcg" {
		t.Errorf("chooseAccel with a stale entry = %q, want a new probe's tcg", accel)
	}
	// tcg is never probed nor remembered.
	os.Remove(path)
	if accel, _, err := chooseAccel(context.Background(), "tcg", cache, "QEMU 1", probe); accel != "tcg" || err != nil {
		t.Errorf("chooseAccel(tcg) = %q, %v", accel, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("chooseAccel(tcg) remembered a probe")
	}
}
