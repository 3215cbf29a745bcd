package pipeline

import (
	"testing"

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
