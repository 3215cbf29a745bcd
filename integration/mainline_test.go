package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// TestMainlineKernels is the default matrix's question on real kernels: the
// host's stable cloud kernel against trixie-backports' newest cloud kernel
// and its PREEMPT_RT build, both split over several packages (7.x), named by
// package and suite and fetched by kvet itself; each boots and runs a TCP and
// a scheduler scenario, and kvet show names the releases.
func TestMainlineKernels(t *testing.T) {
	need(t)
	out := filepath.Join(t.TempDir(), "run")
	m := writeMatrix(t, `
boots: 1
accel: tcg
kernels:
  - name: stable
    package: linux-image-cloud-amd64
  - name: mainline
    package: linux-image-cloud-amd64
    suite: trixie-backports
  - name: mainline-rt
    package: linux-image-rt-amd64
    suite: trixie-backports
scenarios:
  - tcp-rr
  - pipe
`)
	// What is tested is that every kernel boots and measures; whether
	// mainline regressed against stable is the kernels' answer.
	r := kvet(t, 20*time.Minute, "run", m, "--out", out, "--fail-on", "none")
	if r.code != 0 {
		_, boots := readRun(t, out)
		t.Fatalf("kvet run = exit %d, want 0\nstderr:\n%s\nboots: %s", r.code, tail(r.stderr, 30), describe(boots))
	}
	run, boots := readRun(t, out)
	byName := map[string]results.Kernel{}
	for _, k := range run.Kernels {
		byName[k.Name] = k
	}
	for name, want := range map[string]struct{ pkgSuffix, rtConfig string }{
		"mainline":    {"-cloud-amd64", "n"},
		"mainline-rt": {"-rt-amd64", "y"},
	} {
		k := byName[name]
		// The concrete package, not the meta-package, is recorded.
		if !strings.HasPrefix(k.Release, "7.") || !strings.HasPrefix(k.Package, "linux-image-7.") || !strings.HasSuffix(k.Package, want.pkgSuffix) || k.Version == "" {
			t.Errorf("kernel %s = %s %s (%s), want a concrete 7.x linux-image-*%s", name, k.Package, k.Version, k.Release, want.pkgSuffix)
		}
		if !strings.HasSuffix(k.Source, "/trixie-backports") {
			t.Errorf("kernel %s source = %q, want PACKAGE/trixie-backports", name, k.Source)
		}
		if got := k.Config["CONFIG_PREEMPT_RT"]; got != want.rtConfig {
			t.Errorf("kernel %s CONFIG_PREEMPT_RT = %q, want %q (the config comes from linux-base)", name, got, want.rtConfig)
		}
	}
	if k := byName["stable"]; strings.HasPrefix(k.Release, "7.") || k.Release == "" {
		t.Errorf("stable release = %q, want the host's stable kernel", k.Release)
	}
	if len(boots) != 3 {
		t.Fatalf("%d boots, want 3", len(boots))
	}
	for _, b := range boots {
		if b.Outcome != results.OK {
			t.Errorf("boot %s = %s (%s), want ok", b.Key(), b.Outcome, b.Reason)
			continue
		}
		valid := map[string]bool{}
		for _, s := range b.Scenarios {
			valid[s.Name] = s.Valid && len(s.Metrics) > 0
		}
		if !valid["tcp-rr"] || !valid["pipe"] {
			t.Errorf("boot %s: tcp-rr valid %v, pipe valid %v, want both with metrics", b.Key(), valid["tcp-rr"], valid["pipe"])
		}
	}
	show := kvet(t, time.Minute, "show", out)
	if show.code != 0 {
		t.Fatalf("kvet show = exit %d: %s", show.code, show.stderr)
	}
	for _, k := range run.Kernels {
		if !strings.Contains(show.stdout, k.Release) {
			t.Errorf("kvet show does not name %s's release %s:\n%s", k.Name, k.Release, show.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "report.md")); err != nil {
		t.Errorf("no report: %v", err)
	}
}
