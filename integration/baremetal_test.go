package integration

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios"
)

// TestScenarioOnThisMachine: kvet scenario nagle, with no VM, reproduces
// the delayed-ACK stall with Nagle on and its absence with NODELAY on this
// host's own kernel; bad parameters and missing privileges are refused
// with exit 2, naming what is wrong.
func TestScenarioOnThisMachine(t *testing.T) {
	r := kvet(t, 2*time.Minute, "scenario", "nagle", "--param", "exchanges=10", "--param", "variants=[nodelay-off, nodelay-on]", "--format", "json")
	if r.code != 0 {
		t.Fatalf("kvet scenario nagle = exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	var s results.Scenario
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Name != "nagle" || !s.Valid {
		t.Fatalf("kvet scenario nagle --format json: %v, %+v", err, s)
	}
	m := map[string]float64{}
	for _, x := range s.Metrics {
		m[x.Name] = x.Value
	}
	// The stall is the delayed-ACK timer (40 ms, more at a low HZ); a
	// loaded machine may delay a few NODELAY exchanges too, never most.
	if m["nodelay-off.stalled"] < 0.5 || m["nodelay-off.p50"] < 30e6 || m["nodelay-on.stalled"] > 0.5 || m["nodelay-on.p50"] > 20e6 {
		t.Errorf("nagle on this machine: Nagle stalled %.2f (p50 %.3g ns), NODELAY stalled %.2f (p50 %.3g ns); want the stall with Nagle only",
			m["nodelay-off.stalled"], m["nodelay-off.p50"], m["nodelay-on.stalled"], m["nodelay-on.p50"])
	}

	text := kvet(t, time.Minute, "scenario", "nagle", "--param", "exchanges=3", "--param", "variants=[nodelay-on]")
	if text.code != 0 || !strings.Contains(text.stdout, "nodelay-on.p50") || !strings.Contains(text.stdout, "nagle on ") {
		t.Errorf("kvet scenario nagle (text) = exit %d:\n%s%s", text.code, text.stdout, text.stderr)
	}
	// --format kv: a line per metric that exec's kv format reads back, value
	// and unit as the JSON has them (a script can run kvet's scenario beside
	// another tool and report both).
	kv := kvet(t, time.Minute, "scenario", "nagle", "--param", "exchanges=3", "--param", "variants=[nodelay-on]", "--format", "kv")
	got, notes, err := scenarios.ParseKV(strings.NewReader(kv.stdout), nil)
	if kv.code != 0 || err != nil || len(notes) != 0 || len(got) < 3 {
		t.Errorf("kvet scenario nagle --format kv = exit %d, %d metrics, notes %q, %v:\n%s", kv.code, len(got), notes, err, kv.stdout)
	}
	var p50 *results.Metric
	for i := range got {
		if got[i].Name == "nodelay-on.p50" {
			p50 = &got[i]
		}
	}
	if p50 == nil || p50.Unit != "ns" || p50.Value <= 0 || p50.Value > 20e6 {
		t.Errorf("kvet scenario --format kv: nodelay-on.p50 = %+v, want a round trip in ns", p50)
	}
	for _, bad := range [][]string{
		{"scenario", "nagle", "--param", "exchanges=0"},
		{"scenario", "nagle", "--param", "exchange=3"},
		{"scenario", "nosuch"},
	} {
		if r := kvet(t, time.Minute, bad...); r.code != 2 || !strings.Contains(r.stderr, bad[len(bad)-1][:5]) {
			t.Errorf("kvet %s = exit %d, stderr %q; want 2 naming the fault", strings.Join(bad, " "), r.code, r.stderr)
		}
	}

	// Without privileges: timer's SCHED_FIFO threads are refused before
	// anything is measured.
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot drop privileges to check the refusal")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("setpriv: %v", err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "kvet")
	data, err := os.ReadFile(kvetBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		bin, "scenario", "timer", "--param", "duration=1s").CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "needs") || !strings.Contains(string(out), "SCHED_FIFO") {
		t.Errorf("kvet scenario timer without privileges: %v\n%s\nwant exit 2 naming SCHED_FIFO", err, out)
	}
}
