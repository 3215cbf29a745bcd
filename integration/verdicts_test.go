package integration

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// verdictScenarios measure kernel state (stalls, cwnd, context switches),
// which TCG does not distort, in seconds each.
const verdictScenarios = `
scenarios:
  - nagle
  - name: idle-restart
    params: {toggle_sysctl: false}
  - hackbench
`

// sysctlScenarios: idle-restart as the guest is configured, and hackbench
// as something the sysctl must not move.
const sysctlScenarios = `
scenarios:
  - name: idle-restart
    params: {toggle_sysctl: false}
  - hackbench
`

// TestVerdicts: an A/A run says nothing changed; a sysctl that turns off
// slow start after idle changes the idle-restart behaviour and nothing
// else; kvet diff compares the two stored runs.
func TestVerdicts(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	dir := t.TempDir()

	// (a) A/A: one kernel under two names.
	aa := filepath.Join(dir, "aa")
	// The same guest shape as the sysctl run below, so that kvet diff of the
	// two runs compares like with like (the vCPU count moves the scheduler's
	// base slice and hackbench).
	m := writeMatrix(t, "boots: auto\nmax_boots: 4\nbudget: 1h\nprofile: quick\naccel: tcg\ncpus: 1\nparallel: 2\ntrace: on-change\nkernels:\n  - name: a1\n    deb: "+deb+"\n  - name: a2\n    deb: "+deb+"\n"+verdictScenarios)
	r := kvet(t, 12*time.Minute, "run", m, "--out", aa)
	if r.code != 0 {
		t.Fatalf("A/A kvet run = exit %d, want 0 (no regression)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	c := readReports(t, aa)
	if c.Looks < 1 || c.Stop == "" {
		t.Errorf("A/A under boots: auto: %d looks, stop %q; want the looks recorded", c.Looks, c.Stop)
	}
	for _, k := range c.Kernels {
		for _, mr := range k.Metrics {
			if mr.Verdict == results.Regression || mr.Verdict == results.Improvement {
				t.Errorf("A/A: %s %s = %s (%s..%s), want no change", k.Kernel, mr.Key, mr.Verdict, pctOf(mr.Lo), pctOf(mr.Hi))
			}
		}
		if len(k.Changes) != 0 {
			t.Errorf("A/A: what changed = %+v, want nothing", k.Changes)
		}
	}
	// trace: on-change: nothing changed, nothing traced.
	if traced := tracedKernels(t, aa); len(traced) != 0 {
		t.Errorf("A/A with trace: on-change traced %v, want nothing", traced)
	}

	// (b) the same kernel with net.ipv4.tcp_slow_start_after_idle=0 under
	// boots: auto, with at most the 7 boots per kernel that a fixed plan
	// needs for a verdict, two 1-vCPU guests at a time.
	ssai := filepath.Join(dir, "ssai")
	m = writeMatrix(t, "boots: auto\nmax_boots: 7\nbudget: 1h\nprofile: quick\naccel: tcg\ncpus: 1\nparallel: 2\ntrace: on-change\nkernels:\n  - name: a1\n    deb: "+deb+
		"\n  - name: ssai0\n    deb: "+deb+"\n    sysctl:\n      net.ipv4.tcp_slow_start_after_idle: 0\n"+sysctlScenarios)
	// The sysctl may also move idle-restart's timings (the burst is sent
	// with the kept window): a regression there is the kernel's answer, so
	// the exit code must follow the verdicts rather than be 0.
	r = kvet(t, 15*time.Minute, "run", m, "--out", ssai, "--format", "json")
	if r.code != 0 && r.code != 1 {
		t.Fatalf("sysctl kvet run = exit %d, want 0 or 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var stdoutJSON results.Comparison
	if err := json.Unmarshal([]byte(r.stdout), &stdoutJSON); err != nil || stdoutJSON.Schema != results.ComparisonSchema {
		t.Errorf("kvet run --format json: stdout is not the comparison (%v):\n%s", err, r.stdout)
	}
	c = readReports(t, ssai)
	if len(c.Kernels) != 1 {
		t.Fatalf("sysctl run compares %d kernels, want 1", len(c.Kernels))
	}
	if want := exitOf(c.Failed(nil)); r.code != want {
		t.Errorf("sysctl kvet run = exit %d, want %d from its verdicts", r.code, want)
	}
	k := c.Kernels[0]
	if c.Looks < 1 || k.Look < 1 || k.Boots.OK > 7 {
		t.Errorf("boots: auto: %d looks, the kernel judged at look %d with %d boots; want looks recorded, at most 7 boots", c.Looks, k.Look, k.Boots.OK)
	}
	t.Logf("boots: auto: %d looks, judged at look %d with %d boots each; stop: %s", c.Looks, k.Look, k.Boots.OK, c.Stop)
	// The decided change leads the report: the first decided line of
	// report.md's answer is idle-restart's.
	md, err := os.ReadFile(filepath.Join(ssai, results.ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(md), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (f[0] == string(results.Improvement) || f[0] == string(results.Regression)) {
			if !strings.HasPrefix(f[1], "idle-restart/") {
				t.Errorf("report.md's first decided change is %q, want idle-restart's", line)
			}
			break
		}
	}
	var listed bool
	for _, ch := range k.Changes {
		if ch.Kind == "sysctl" && ch.Key == "net.ipv4.tcp_slow_start_after_idle" && ch.Cand == "0" {
			listed = true
		}
	}
	if !listed {
		t.Errorf("what changed = %+v, want the sysctl net.ipv4.tcp_slow_start_after_idle -> 0", k.Changes)
	}
	metric := func(key string) *results.MetricResult {
		for i := range k.Metrics {
			if k.Metrics[i].Key == key {
				return &k.Metrics[i]
			}
		}
		t.Fatalf("no metric %s in the comparison", key)
		return nil
	}
	if s := metric("idle-restart/sysctl.net.ipv4.tcp_slow_start_after_idle"); s.BaseMedian != 1 || s.CandMedian != 0 {
		t.Errorf("recorded sysctl = %g on the baseline, %g on the candidate; want 1 and 0", s.BaseMedian, s.CandMedian)
	}
	// The baseline restarts cwnd after idle, the candidate keeps it: the
	// kernel-state metric moves by far more than its threshold, and with 7
	// boots a side the statistics can say so.
	ratio := metric("idle-restart/cubic.cwnd_after_ratio")
	if ratio.BaseMedian > 0.5 || ratio.CandMedian < 0.9 || ratio.Verdict != results.Improvement {
		t.Errorf("cwnd after/before: baseline %v, candidate %v, verdict %s (%s); want a restart on the baseline only, judged an improvement",
			ratio.Base, ratio.Cand, ratio.Verdict, ratio.Reason)
	}
	for _, mr := range k.Metrics {
		if (mr.Verdict == results.Regression || mr.Verdict == results.Improvement) && mr.Scenario != "idle-restart" {
			t.Errorf("sysctl run: %s = %s, want no change outside idle-restart", mr.Key, mr.Verdict)
		}
	}

	// trace: on-change: the decided change gets a traced boot of both
	// kernels, with idle-restart's TCP events.
	if traced := tracedKernels(t, ssai); traced["a1"] != 1 || traced["ssai0"] != 1 || len(traced) != 2 {
		t.Errorf("sysctl run with trace: on-change traced %v, want a1 and ssai0 once", traced)
	}

	// (c) kvet diff of the two stored runs: a1 against itself across runs,
	// then the A/A run's a1 against the sysctl variant. Two runs are not
	// interleaved, and their guests ran beside different neighbours (a2 in
	// one, ssai0 in the other): host drift between them may move anything
	// timed, and cwnd_before (how far the bulk grew the window, so also
	// cwnd_after_ratio) is timed. What must hold is that the exit code
	// follows the verdicts and that the kernel's behaviour does not change
	// for the same kernel: in both runs a1 restarts to the initial window
	// after idle, and its sysctl is the same.
	aaOut := filepath.Join(dir, "diff-aa.json")
	r = kvet(t, time.Minute, "diff", aa, ssai, "--format", "json", "--out", aaOut)
	d := readDiff(t, aaOut, r)
	if d.Baseline != "a1@old" || len(d.Kernels) != 1 || d.Kernels[0].Kernel != "a1@new" {
		t.Fatalf("kvet diff: baseline %s, kernels %d; want a1@new against a1@old", d.Baseline, len(d.Kernels))
	}
	var restarts, sysctls int
	for _, mr := range d.Kernels[0].Metrics {
		switch mr.Key {
		case "idle-restart/cubic.cwnd_after":
			restarts++
			if mr.BaseMedian > 11 || mr.CandMedian > 11 {
				t.Errorf("kvet diff a1@new vs a1@old: cwnd after idle %v vs %v, want the initial window (at most 11) in both runs", mr.Base, mr.Cand)
			}
		case "idle-restart/sysctl.net.ipv4.tcp_slow_start_after_idle":
			sysctls++
			if mr.BaseMedian != 1 || mr.CandMedian != 1 || mr.Verdict == results.Regression || mr.Verdict == results.Improvement {
				t.Errorf("kvet diff a1@new vs a1@old: sysctl %v vs %v (%s), want 1 in both runs and no change", mr.Base, mr.Cand, mr.Verdict)
			}
		}
	}
	if restarts != 1 || sysctls != 1 {
		t.Errorf("kvet diff a1@new vs a1@old: %d cwnd_after and %d sysctl metrics, want one of each", restarts, sysctls)
	}
	out := filepath.Join(dir, "diff.json")
	r = kvet(t, time.Minute, "diff", aa, ssai, "--old-kernel", "a1", "--new-kernel", "ssai0", "--format", "json", "--out", out)
	d = readDiff(t, out, r)
	if len(d.Kernels) != 1 {
		t.Fatalf("kvet diff --out %s: %d kernels, want 1", out, len(d.Kernels))
	}
	var sysctl bool
	for _, ch := range d.Kernels[0].Changes {
		sysctl = sysctl || ch.Kind == "sysctl" && ch.Key == "net.ipv4.tcp_slow_start_after_idle"
	}
	if d.Baseline != "a1@old" || d.Kernels[0].Kernel != "ssai0@new" || !sysctl {
		t.Errorf("kvet diff: baseline %s, kernel %s, changes %+v; want a1@old, ssai0@new and the sysctl", d.Baseline, d.Kernels[0].Kernel, d.Kernels[0].Changes)
	}
	show := kvet(t, time.Minute, "show", ssai)
	if show.code != 0 || !strings.Contains(show.stdout, "ssai0 vs a1") || !strings.Contains(show.stdout, "what changed") {
		t.Errorf("kvet show = exit %d, want the verdict table with what changed:\n%s", show.code, show.stdout)
	}
}

// tracedKernels counts a run's traced boots per kernel; each must be ok
// and carry idle-restart's trace with TCP events.
func tracedKernels(t *testing.T, dir string) map[string]int {
	t.Helper()
	d, _, err := results.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	boots, err := d.TracedBoots()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, b := range boots {
		n[b.Kernel]++
		var tcp bool
		for _, tr := range b.Traces {
			tcp = tcp || tr.Scenario == "idle-restart" && tr.File != "" && slices.Contains(tr.Enabled, "tcp/tcp_probe")
		}
		if b.Outcome != results.OK || !tcp {
			t.Errorf("traced boot of %s: %s %s, traces %+v; want ok with idle-restart's TCP events", b.Kernel, b.Outcome, b.Reason, b.Traces)
		}
	}
	return n
}

// readDiff reads the comparison kvet diff wrote to out and checks that its
// exit code follows its verdicts: 1 exactly when a kernel regressed or
// faulted.
func readDiff(t *testing.T, out string, r result) *results.Comparison {
	t.Helper()
	var d results.Comparison
	b, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(b, &d) != nil || d.Schema != results.ComparisonSchema {
		t.Fatalf("kvet diff --out %s: %v, schema %q\nstderr:\n%s", out, err, d.Schema, r.stderr)
	}
	regressed := d.Failed(nil) // a regression or a kernel fault
	if want := exitOf(regressed); r.code != want {
		t.Errorf("kvet diff = exit %d with regressions %v, want %d\nstderr:\n%s", r.code, regressed, want, r.stderr)
	}
	return &d
}

// exitOf is the exit code kvet documents for a comparison that failed or not.
func exitOf(failed bool) int {
	if failed {
		return 1
	}
	return 0
}

// readReports checks the report files of a run directory and returns the
// comparison from report.json.
func readReports(t *testing.T, dir string) *results.Comparison {
	t.Helper()
	for _, f := range []string{"report.md", "report.html", "bench.txt"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v (empty or missing)", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		XMLName xml.Name
		Suites  []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil || len(suites.Suites) == 0 {
		t.Errorf("junit.xml: %v, %d suites; want XML with a suite per candidate", err, len(suites.Suites))
	}
	b, err = os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c results.Comparison
	if err := json.Unmarshal(b, &c); err != nil || c.Schema != results.ComparisonSchema {
		t.Fatalf("report.json: %v, schema %q; want %s", err, c.Schema, results.ComparisonSchema)
	}
	return &c
}

func pctOf(r float64) string { return fmt.Sprintf("%+.1f%%", (r-1)*100) }
