package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/pipeline"
)

// TestBisect: over an artificial series of one kernel where every member
// from the fourth on turns off slow start after idle, kvet bisect names the
// fourth as the first bad one in two steps (three if one is skipped),
// each booting the member beside
// the nearest good and bad ones; the state says every step's verdicts.
func TestBisect(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	var b strings.Builder
	b.WriteString("boots: 3\nprofile: quick\naccel: tcg\ncpus: 1\nparallel: 2\nkernels:\n")
	for i, ssai := range []string{"1", "1", "1", "0", "0"} {
		b.WriteString("  - name: m" + string(rune('0'+i)) + "\n    deb: " + deb + "\n    sysctl: {net.ipv4.tcp_slow_start_after_idle: " + ssai + "}\n")
	}
	b.WriteString("scenarios:\n  - name: idle-restart\n    params: {toggle_sysctl: false}\n")
	m := writeMatrix(t, b.String())
	dir := filepath.Join(t.TempDir(), "bisect")
	dry := kvet(t, time.Minute, "bisect", m, "--metric", "idle-restart/cubic.cwnd_after_ratio", "--dir", dir, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, "first step: m2 beside m0 and m4") {
		t.Fatalf("kvet bisect --dry-run = exit %d:\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	r := kvet(t, 20*time.Minute, "bisect", m, "--metric", "idle-restart/cubic.cwnd_after_ratio", "--dir", dir, "--quiet")
	if r.code != 0 {
		t.Fatalf("kvet bisect = exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("kvet bisect:\n%s", r.stdout)
	state, err := pipeline.LoadBisection(dir)
	if err != nil || state == nil {
		t.Fatalf("bisect.json: %v", err)
	}
	if got := state.Result(); got != "first bad: m3 (the last good is m2)" || len(state.Steps) > 3 {
		t.Errorf("bisection: %q in %d steps %+v; want m3 in 2 (3 if one is skipped)", got, len(state.Steps), state.Steps)
	}
	if !strings.Contains(r.stdout, "first bad: m3") {
		t.Errorf("kvet bisect does not name m3:\n%s", r.stdout)
	}
	// Run again: the state is complete, nothing boots.
	before, _ := filepath.Glob(filepath.Join(dir, "step-*"))
	again := kvet(t, time.Minute, "bisect", m, "--metric", "idle-restart/cubic.cwnd_after_ratio", "--dir", dir, "--quiet")
	steps, _ := filepath.Glob(filepath.Join(dir, "step-*"))
	if again.code != 0 || !strings.Contains(again.stdout, "first bad: m3") || len(steps) != len(before) {
		t.Errorf("kvet bisect of a finished bisection = exit %d, %d step runs:\n%s", again.code, len(steps), again.stdout)
	}
}
