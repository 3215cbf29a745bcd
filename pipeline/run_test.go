package pipeline

import (
	"path/filepath"

	"testing"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
)

// TestConfigFactsFillGaps: the host adds the config options the guest did
// not report, and never overwrites what the guest did.
func TestConfigFactsFillGaps(t *testing.T) {
	b := &results.Boot{Facts: map[string]string{"config.CONFIG_HZ": "1000"}}
	addConfigFacts(b, &kernels.Kernel{Config: map[string]string{"CONFIG_HZ": "250", "CONFIG_PREEMPT_RT": "y"}})
	if got := b.Facts["config.CONFIG_HZ"]; got != "1000" {
		t.Errorf("config.CONFIG_HZ = %q, want the guest's 1000", got)
	}
	if got := b.Facts["config.CONFIG_PREEMPT_RT"]; got != "y" {
		t.Errorf("config.CONFIG_PREEMPT_RT = %q, want the host's y", got)
	}
	if got := b.Facts["config.CONFIG_SCHED_CORE"]; got != "n" {
		t.Errorf("config.CONFIG_SCHED_CORE = %q, want n for an option the config does not set", got)
	}
	if n := len(b.Facts); n != len(kernels.ReportedConfig) {
		t.Errorf("%d facts, want one per reported option (%d)", n, len(kernels.ReportedConfig))
	}
}

// TestPrepareFailsByKind: a run that cannot start says whose fault it is,
// and leaves nothing held.
func TestPrepareFailsByKind(t *testing.T) {
	m, err := matrix.FromKernelFiles([]string{"/nonexistent/a.deb"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want Kind
	}{
		{"no matrix", Options{}, BadInput},
		{"no QEMU", Options{Matrix: m, QEMU: filepath.Join(t.TempDir(), "no-qemu")}, Infra},
		{"resume of no run", Options{Resume: t.TempDir()}, BadInput},
	}
	for _, tt := range tests {
		r, err := Prepare(t.Context(), tt.o)
		if r != nil || err == nil || KindOf(err) != tt.want {
			t.Errorf("%s: Prepare = %v, %v (kind %v); want an error of kind %v", tt.name, r, err, KindOf(err), tt.want)
		}
	}
}
