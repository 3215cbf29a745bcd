package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// memoryVariants runs each memory scenario and the variants that must move
// it, in one guest.
const memoryVariants = `
scenarios:
  - swap-in
  - {name: swap-in, label: swap-in-min, params: {protect: min}}
  - {name: swap-in, label: swap-in-s0, params: {swappiness: 0}}
  - {name: swap-in, label: swap-in-disk, params: {swap: disk, batch_file_mb: 0}}
  - {name: oom-victim, params: {rounds: 2}}
  - {name: oom-victim, label: oom-adj, params: {important_adj: -1000, rounds: 2}}
  - {name: oom-victim, label: oom-group, params: {important_adj: -1000, oom_group: true, rounds: 2}}
  - {name: oom-victim, label: oom-guest, params: {scope: guest, rounds: 1}}
  - {name: reclaim-latency, params: {count: 300}}
  - {name: reclaim-latency, label: reclaim-none, params: {mode: none, count: 300}}
`

// TestMemoryScenarios: in a real guest, each memory scenario measures, and
// the controls move what they must: memory.min keeps the interactive set
// in memory, vm.swappiness 0 makes the cgroup's OOM killer take it rather
// than swap it, swap works on the scratch disk; the OOM killer takes the
// large important process until oom_score_adj exempts it, memory.oom.group
// takes the leaker's helpers with it, and a guest-wide OOM leaves the guest
// running; memory.high makes allocations reclaim, no limit does not.
func TestMemoryScenarios(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	out := filepath.Join(t.TempDir(), "run")
	m := writeMatrix(t, "boots: 1\naccel: tcg\nkernels:\n  - name: k\n    deb: "+deb+"\n"+memoryVariants)
	r := kvet(t, 10*time.Minute, "run", m, "--out", out)
	if r.code != 0 {
		t.Fatalf("kvet run = exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	_, boots := readRun(t, out)
	if len(boots) != 1 || boots[0].Outcome != results.OK {
		t.Fatalf("%d boots, want one ok", len(boots))
	}
	b := boots[0]
	for _, f := range []string{"mm.psi", "mm.swap", "sysctl.vm.swappiness", "sysctl.vm.page-cluster", "mm.lru_gen.enabled", "mm.thp.enabled"} {
		if b.Facts[f] == "" {
			t.Errorf("fact %s not recorded", f)
		}
	}
	sc := map[string]*results.Scenario{}
	for i := range b.Scenarios {
		s := &b.Scenarios[i]
		sc[s.Name] = s
		if !s.Valid {
			t.Errorf("%s: invalid: %s", s.Name, s.Invalid)
		}
		t.Logf("%s (%v): %s; notes %q", s.Name, s.Duration.Round(100*time.Millisecond), metricLine(s), s.Notes)
	}
	v := func(scenario, metric string) float64 {
		t.Helper()
		s := sc[scenario]
		if s == nil {
			t.Fatalf("no scenario %s in the boot", scenario)
		}
		for _, m := range s.Metrics {
			if m.Name == metric {
				return m.Value
			}
		}
		t.Fatalf("%s: no metric %s", scenario, metric)
		return 0
	}

	// swap-in.
	if out := v("swap-in", "swapped_out"); out < 0.5 {
		t.Errorf("swap-in: swapped_out %.2f, want the night to push most of the set out", out)
	}
	if v("swap-in", "swapin.major_faults") < 100 || v("swap-in", "interactive.oom_killed") != 0 {
		t.Errorf("swap-in: %g major faults, interactive killed %g; want a swap-in from swap", v("swap-in", "swapin.major_faults"), v("swap-in", "interactive.oom_killed"))
	}
	if min, def := v("swap-in-min", "swapped_out"), v("swap-in", "swapped_out"); min > def/2 {
		t.Errorf("protect: min: swapped_out %.2f against %.2f unprotected; want memory.min to keep the set in", min, def)
	}
	if v("swap-in-min", "swapin.major_faults") > v("swap-in", "swapin.major_faults")/2 {
		t.Errorf("protect: min: %g major faults against %g unprotected", v("swap-in-min", "swapin.major_faults"), v("swap-in", "swapin.major_faults"))
	}
	if k := v("swap-in-s0", "interactive.oom_killed"); k != 1 {
		t.Errorf("swappiness 0: interactive.oom_killed %g, want 1 (a cgroup at swappiness 0 never swaps anonymous memory)", k)
	}
	if out := v("swap-in-disk", "swapped_out"); out < 0.5 || !strings.Contains(strings.Join(sc["swap-in-disk"].Notes, " "), "disk on /dev/vd") {
		t.Errorf("swap: disk: swapped_out %.2f, notes %q; want swap on the scratch disk", out, sc["swap-in-disk"].Notes)
	}

	// oom-victim: the important process is the largest, so it is taken
	// unless exempted.
	if v("oom-victim", "killed.important") != 2 || v("oom-victim", "right_victim") != 0 {
		t.Errorf("oom-victim: important killed %g of 2 rounds, right_victim %g; want the large important process taken", v("oom-victim", "killed.important"), v("oom-victim", "right_victim"))
	}
	if v("oom-adj", "right_victim") != 1 || v("oom-adj", "killed.leaker") != 2 || v("oom-adj", "killed.important") != 0 {
		t.Errorf("important_adj -1000: right_victim %g, leaker killed %g, important %g; want the leaker every time", v("oom-adj", "right_victim"), v("oom-adj", "killed.leaker"), v("oom-adj", "killed.important"))
	}
	if v("oom-group", "killed.helpers") != 4 || v("oom-group", "right_victim") != 1 {
		t.Errorf("oom_group: helpers killed %g, right_victim %g; want the leaker's 2 helpers taken with it in both rounds", v("oom-group", "killed.helpers"), v("oom-group", "right_victim"))
	}
	if v("oom-victim", "kill_latency") <= 0 || v("oom-guest", "oom_kills") < 1 {
		t.Errorf("kill latency %g, guest-wide OOM kills %g", v("oom-victim", "kill_latency"), v("oom-guest", "oom_kills"))
	}

	// reclaim-latency.
	if v("reclaim-latency", "high_events") == 0 || v("reclaim-latency", "direct_scan") == 0 {
		t.Errorf("memory.high: %g high events, %g pages scanned directly; want allocations that reclaim", v("reclaim-latency", "high_events"), v("reclaim-latency", "direct_scan"))
	}
	if v("reclaim-none", "high_events") != 0 || v("reclaim-none", "direct_scan") != 0 {
		t.Errorf("mode none: %g high events, %g direct scans; want none", v("reclaim-none", "high_events"), v("reclaim-none", "direct_scan"))
	}
	if p99 := v("reclaim-latency", "alloc.p99"); p99 <= 0 {
		t.Errorf("alloc.p99 = %g", p99)
	}
}

// TestMemoryVerdicts: the statistics see the controlled difference and
// nothing else: a kernel under a second name (a negative control) is not
// reported as changed, the same kernel at vm.swappiness 0 is, on swap-in.
func TestMemoryVerdicts(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	out := filepath.Join(t.TempDir(), "run")
	m := writeMatrix(t, "boots: auto\nmax_boots: 4\nbudget: 1h\naccel: tcg\nparallel: 2\nkernels:\n  - name: a1\n    deb: "+deb+
		"\n  - name: a2\n    deb: "+deb+"\n  - name: s0\n    deb: "+deb+"\n    sysctl: {vm.swappiness: 0}\nscenarios:\n  - {name: swap-in, params: {rounds: 3, set_mb: 32, limit_mb: 64, batch_mb: 96, batch_file_mb: 0}}\n")
	r := kvet(t, 15*time.Minute, "run", m, "--out", out)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("kvet run = exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	c := readReports(t, out)
	for _, k := range c.Kernels {
		var decided []string
		for _, mr := range k.Metrics {
			if mr.Verdict == results.Regression || mr.Verdict == results.Improvement {
				decided = append(decided, mr.Key+" "+string(mr.Verdict))
			}
		}
		t.Logf("%s: %d boots, look %d: %v", k.Kernel, k.Boots.OK, k.Look, decided)
		switch k.Kernel {
		case "a2":
			if len(decided) > 0 {
				t.Errorf("a2 (the baseline under another name): %v, want nothing changed", decided)
			}
		case "s0":
			var killed bool
			for _, mr := range k.Metrics {
				killed = killed || mr.Key == "swap-in/interactive.oom_killed" && mr.Verdict == results.Regression
			}
			if !killed {
				t.Errorf("s0 (vm.swappiness 0): %v; want swap-in/interactive.oom_killed a regression", decided)
			}
		}
	}
}

// metricLine is a scenario's metrics on one line.
func metricLine(s *results.Scenario) string {
	var parts []string
	for _, m := range s.Metrics {
		parts = append(parts, m.Name+"="+results.FormatValue(m.Value, m.Unit))
	}
	return strings.Join(parts, " ")
}
