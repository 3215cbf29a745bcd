package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// tinyHackbench keeps each boot to a few seconds under TCG: the matrix
// tests are about the runner, not the measurement.
const tinyHackbench = `
scenarios:
  - name: hackbench
    params: {groups: 1, senders: 2, receivers: 2, loops: 20}
cpus: 1
memory: 512
accel: tcg
`

// TestMatrixPool: two real kernels x 4 boots, two guests at a time with one
// vCPU each. Every boot is ok, the plan interleaves the kernels, the boots
// start in plan order, each guest is pinned to a host CPU of its own when
// the host has two, and --events json writes one JSON object per line.
func TestMatrixPool(t *testing.T) {
	need(t)
	m := writeMatrix(t, `
kernels:
  - name: k61
    deb: `+kernelDeb(t, "6.1")+`
  - name: k612
    deb: `+kernelDeb(t, "6.12")+`
boots: 4
`+tinyHackbench)
	out := filepath.Join(t.TempDir(), "run")
	// A cache of its own: host CPUs are claimed per cache, and other kvet
	// processes on this host must not take them from the test.
	cache := t.TempDir()
	r := kvet(t, 15*time.Minute, "run", m, "--parallel", "2", "--out", out, "--fail-on", "none", "--events", "json", "--cache", cache)
	if r.code != 0 {
		t.Fatalf("kvet run = exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	run, boots := readRun(t, out)
	if len(boots) != 8 {
		t.Fatalf("%d boots recorded, want 8: %s", len(boots), describe(boots))
	}
	for _, b := range boots {
		if b.Outcome != results.OK {
			t.Errorf("boot %s = %s (%s), want ok", b.Key(), b.Outcome, b.Reason)
		}
	}
	checkInterleaved(t, run.Plan, []string{"k61", "k612"}, 4)

	host, err := runner.HostCPUs()
	if err != nil {
		t.Fatal(err)
	}
	wantPinned := len(host) >= 2
	if run.Parallel != 2 || run.Isolate || run.Pinned != wantPinned {
		t.Errorf("run.json parallel %d, isolate %v, pinned %v; want 2, false, %v", run.Parallel, run.Isolate, run.Pinned, wantPinned)
	}
	for _, b := range boots {
		if wantPinned && (len(b.PinnedCPUs) != 1 || !slices.Contains(host[:2], b.PinnedCPUs[0]) || len(b.EmulatorCPUs) == 0) {
			t.Errorf("boot %s pinned to %v, emulator %v; want one of %v and emulator CPUs", b.Key(), b.PinnedCPUs, b.EmulatorCPUs, host[:2])
		}
		if !wantPinned && len(b.PinnedCPUs) != 0 {
			t.Errorf("boot %s pinned to %v on a host of %d CPUs", b.Key(), b.PinnedCPUs, len(host))
		}
	}
	// Guests that ran at the same time never shared a host CPU.
	for i, a := range boots {
		for _, b := range boots[i+1:] {
			if overlap(a, b) && len(a.PinnedCPUs) > 0 && len(b.PinnedCPUs) > 0 && a.PinnedCPUs[0] == b.PinnedCPUs[0] {
				t.Errorf("boots %s and %s ran at once on host CPU %d", a.Key(), b.Key(), a.PinnedCPUs[0])
			}
		}
	}

	// The events: parseable JSON lines, starts in plan order, 8 ends.
	evs := jsonEvents(t, r.stderr)
	var starts []int
	ends := 0
	for _, ev := range evs {
		switch ev.Kind {
		case "start":
			starts = append(starts, ev.Entry.Seq)
		case "end":
			ends++
			if ev.Total != 8 || ev.Done < 1 || ev.Done > 8 || ev.Wall <= 0 {
				t.Errorf("end event %+v: want total 8, done in 1..8 and a wall time", ev)
			}
		}
	}
	if ends != 8 || !slices.IsSorted(starts) || len(starts) != 8 {
		t.Errorf("events: %d ends, starts in order %v; want 8 ends and 8 starts in plan order", ends, starts)
	}
	var overhead, wall time.Duration
	for _, b := range boots {
		overhead += b.HostOverhead
		wall += b.Wall
	}
	t.Logf("host overhead %.2f%% of boot wall time (%s of %s over %d boots)", 100*float64(overhead)/float64(wall), overhead.Round(time.Millisecond), wall.Round(time.Millisecond), len(boots))
}

// checkInterleaved checks the plan's balanced rounds: every round holds each
// kernel once, and each odd round is the reverse of the one before (A B C C
// B A ...).
func checkInterleaved(t *testing.T, plan []results.PlanEntry, kernels []string, boots int) {
	t.Helper()
	if len(plan) != len(kernels)*boots {
		t.Fatalf("plan has %d entries, want %d", len(plan), len(kernels)*boots)
	}
	n := len(kernels)
	var prev []string
	for r := 0; r < boots; r++ {
		var round []string
		for i, e := range plan[r*n : (r+1)*n] {
			if e.Seq != r*n+i || e.Index != r {
				t.Errorf("plan[%d] = %+v, want seq %d index %d", r*n+i, e, r*n+i, r)
			}
			round = append(round, e.Kernel)
		}
		sorted := slices.Sorted(slices.Values(round))
		if !slices.Equal(sorted, slices.Sorted(slices.Values(kernels))) {
			t.Errorf("plan round %d = %v, want each of %v once", r, round, kernels)
		}
		if r%2 == 1 && !slices.Equal(round, reversed(prev)) {
			t.Errorf("plan round %d = %v, want the reverse of round %d %v", r, round, r-1, prev)
		}
		prev = round
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func overlap(a, b *results.Boot) bool {
	return a.Started.Before(b.Started.Add(b.Wall)) && b.Started.Before(a.Started.Add(a.Wall))
}

// jsonEvents parses the JSON lines of --events json; every line that is
// not the logger's must be one JSON object.
func jsonEvents(t *testing.T, stderr string) []runner.Event {
	t.Helper()
	var evs []runner.Event
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue // the logger's lines and the report
		}
		var ev runner.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("event line %q: %v", line, err)
			continue
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		t.Errorf("no JSON events on stderr:\n%s", stderr)
	}
	return evs
}

// threeNames is one real kernel under three names that differ by sysctls,
// so that a three-kernel matrix costs one download.
func threeNames(t *testing.T, boots int) string {
	deb := kernelDeb(t, "6.12")
	return writeMatrix(t, fmt.Sprintf(`
kernels:
  - name: base
    deb: %[1]s
  - name: nossai
    deb: %[1]s
    sysctl: {net.ipv4.tcp_slow_start_after_idle: "0"}
  - name: nocork
    deb: %[1]s
    sysctl: {net.ipv4.tcp_autocorking: "0"}
boots: %[2]d
`, deb, boots)+tinyHackbench)
}

// TestMatrixResumeAndShards: a 3-kernel x 6-boot matrix run whole, run
// again but killed (SIGKILL, then SIGINT) at random points and resumed to
// completion, and run as three shards merged into one. Every way records
// each boot of the plan exactly once, leaves no QEMU behind and reaches the
// same results as the whole run.
func TestMatrixResumeAndShards(t *testing.T) {
	need(t)
	m := threeNames(t, 6)
	common := []string{"--parallel", "2", "--seed", "42", "--run-id", "matrix-it", "--fail-on", "none", "--quiet"}

	whole := filepath.Join(t.TempDir(), "whole")
	if r := kvet(t, 20*time.Minute, append([]string{"run", m, "--out", whole}, common...)...); r.code != 0 {
		t.Fatalf("kvet run = exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	wholeRun, wholeBoots := readRun(t, whole)
	checkComplete(t, "whole run", wholeRun, wholeBoots)
	checkInterleaved(t, wholeRun.Plan, []string{"base", "nossai", "nocork"}, 6)

	t.Run("resume", func(t *testing.T) {
		// A subtest's temporary directories have a root of their own.
		root := filepath.Dir(t.TempDir())
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		out := filepath.Join(t.TempDir(), "interrupted")
		args := append([]string{"run", m, "--out", out}, common...)
		// SIGKILL leaves no chance to clean up: QEMU must die with kvet
		// through the parent-death signal.
		killed := killAfterBoots(t, root, args, 1+rng.IntN(6), syscall.SIGKILL)
		stale := staleDirs(killed.pid)
		t.Logf("SIGKILL left %d boot directories: %v", len(stale), stale)
		_, boots := readRun(t, out)
		if len(boots) == 0 || len(boots) == 18 {
			t.Fatalf("%d boots recorded before the SIGKILL, want some but not all", len(boots))
		}
		// SIGINT: kvet stops its guests and says how to continue.
		resume := append([]string{"run", "--resume", out}, "--parallel", "2", "--fail-on", "none", "--quiet")
		r := killAfterBoots(t, root, resume, len(boots)+1+rng.IntN(4), syscall.SIGINT)
		if r.code != 3 || !strings.Contains(r.stderr, "--resume "+out) {
			t.Errorf("kvet run after SIGINT = exit %d, want 3 and how to resume:\n%s", r.code, r.stderr)
		}
		// The next kvet removed what the killed one left in the temporary folder.
		if left := staleDirs(killed.pid); len(left) > 0 {
			t.Errorf("boot directories of the killed kvet (pid %d) still there: %v", killed.pid, left)
		}
		if r := kvet(t, 20*time.Minute, resume...); r.code != 0 {
			t.Fatalf("kvet run --resume = exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
		}
		run, boots := readRun(t, out)
		checkComplete(t, "resumed run", run, boots)
		sameResults(t, wholeBoots, boots)
		leftovers, _ := filepath.Glob(filepath.Join(out, results.BootsDir, "*"))
		if len(leftovers) != len(boots) {
			t.Errorf("boots directory holds %d files for %d boots: %v", len(leftovers), len(boots), leftovers)
		}
	})

	t.Run("shards", func(t *testing.T) {
		var shards []string
		for i := 1; i <= 3; i++ {
			dir := filepath.Join(t.TempDir(), fmt.Sprintf("shard%d", i))
			r := kvet(t, 20*time.Minute, append([]string{"run", m, "--out", dir, "--shard", fmt.Sprintf("%d/3", i)}, common...)...)
			if r.code != 0 {
				t.Fatalf("kvet run --shard %d/3 = exit %d, want 0\nstderr:\n%s", i, r.code, r.stderr)
			}
			_, boots := readRun(t, dir)
			if len(boots) != 6 {
				t.Errorf("shard %d/3 recorded %d boots, want 6", i, len(boots))
			}
			shards = append(shards, dir)
		}
		merged := filepath.Join(t.TempDir(), "merged")
		if r := kvet(t, time.Minute, append([]string{"merge", "-out", merged}, shards...)...); r.code != 0 {
			t.Fatalf("kvet merge = exit %d, want 0\n%s", r.code, r.stderr)
		}
		run, boots := readRun(t, merged)
		checkComplete(t, "merged run", run, boots)
		if !slices.Equal(run.Plan, wholeRun.Plan) || run.Seed != wholeRun.Seed || run.Matrix != wholeRun.Matrix {
			t.Errorf("merged run's plan, seed or matrix differ from the whole run's")
		}
		sameResults(t, wholeBoots, boots)
		// The verdicts: the merged run reads like the whole run would with
		// the same boots. Measurements differ between two runs, so the
		// same boots go into a copy of the whole run's directory.
		twin := filepath.Join(t.TempDir(), "twin")
		copyDir(t, whole, twin, results.RunFile)
		copyDir(t, merged, twin, results.BootsDir, results.ConsoleDir)
		a, b := kvet(t, time.Minute, "show", merged), kvet(t, time.Minute, "show", twin)
		if a.code != b.code || verdicts(a.stdout) != verdicts(b.stdout) || verdicts(a.stdout) == "" {
			t.Errorf("kvet show of the merged shards (exit %d):\n%s\nwant as for the whole run (exit %d):\n%s", a.code, a.stdout, b.code, b.stdout)
		}
		// And the same metrics are judged, in the same order, as in the
		// whole run: a separate execution measures other values, but the
		// rows differ only for a scenario whose measurement was invalid in
		// some boot of either run (its metrics exist only where valid).
		w := kvet(t, time.Minute, "show", whole)
		skip := invalidScenarios(wholeBoots, boots)
		if got, want := scenarioRows(metricRows(a.stdout, skip)), scenarioRows(metricRows(w.stdout, skip)); got != want || got == "" {
			t.Errorf("merged run judges other metrics than the whole run (invalid scenarios %v):\n%s\nwhole:\n%s", skip, a.stdout, w.stdout)
		}

		// Shards of different matrices, or one shard twice, do not merge.
		other := filepath.Join(t.TempDir(), "other")
		copyDir(t, shards[1], other, results.RunFile, results.BootsDir)
		editRun(t, other, func(r *results.Run) { r.Matrix += "# another matrix\n" })
		for _, bad := range [][]string{{shards[0], other, shards[2]}, {shards[0], shards[0]}} {
			out := filepath.Join(t.TempDir(), "bad")
			r := kvet(t, time.Minute, append([]string{"merge", "-out", out}, bad...)...)
			if r.code != 2 {
				t.Errorf("kvet merge %v = exit %d, want 2\n%s", bad, r.code, r.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("kvet merge %v wrote %s", bad, out)
			}
		}
	})
}

// killAfterBoots starts kvet, sends sig once at least n boots are recorded
// in its run directory (the --out or --resume argument), waits for it and
// checks that none of its QEMU processes outlive it.
func killAfterBoots(t *testing.T, root string, args []string, n int, sig syscall.Signal) result {
	t.Helper()
	dir := args[slices.IndexFunc(args, func(a string) bool { return a == "--out" || a == "--resume" })+1]
	cmd := exec.Command(kvetBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(20 * time.Minute)
	for recorded := 0; recorded < n; {
		select {
		case err := <-exited:
			t.Fatalf("kvet %s ended (%v) before %d boots were recorded\n%s", strings.Join(args, " "), err, n, errb.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("kvet %s: %d boots not recorded within 20 minutes", strings.Join(args, " "), n)
		case <-time.After(200 * time.Millisecond):
		}
		files, _ := filepath.Glob(filepath.Join(dir, results.BootsDir, "*.json"))
		recorded = len(files)
	}
	// The pool starts the next guest once a boot is recorded; on a loaded
	// host that takes a moment: wait for it rather than sample once.
	running := qemuProcesses(root)
	for wait := time.Now(); len(running) == 0 && time.Since(wait) < time.Minute; running = qemuProcesses(root) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(running) == 0 {
		t.Errorf("no QEMU running within a minute of boot %d being recorded when %v was sent: the test proves nothing", n, sig)
	}
	cmd.Process.Signal(sig)
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("kvet did not end within a minute of %v", sig)
	}
	t.Logf("kvet %s: %v after %d boots, %d QEMU running; %v", strings.Join(args, " "), sig, n, len(running), err)
	noQEMULeft(t, root)
	r := result{stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	return r
}

// checkComplete: the recorded boots are exactly the plan's, once each, at
// their plan positions.
func checkComplete(t *testing.T, what string, run *results.Run, boots []*results.Boot) {
	t.Helper()
	want := map[string]int{}
	for _, e := range run.Plan {
		want[results.BootKey(e.Kernel, e.Index)] = e.Seq
	}
	got := map[string]bool{}
	for _, b := range boots {
		seq, ok := want[b.Key()]
		switch {
		case !ok:
			t.Errorf("%s: boot %s is not in the plan", what, b.Key())
		case got[b.Key()]:
			t.Errorf("%s: boot %s recorded twice", what, b.Key())
		case b.Seq != seq:
			t.Errorf("%s: boot %s at seq %d, the plan says %d", what, b.Key(), b.Seq, seq)
		}
		if b.Outcome != results.OK {
			t.Errorf("%s: boot %s = %s (%s), want ok", what, b.Key(), b.Outcome, b.Reason)
		}
		got[b.Key()] = true
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d boots recorded, the plan has %d", what, len(got), len(want))
	}
}

// sameResults: the same boots with the same outcomes, scenarios and metric
// names (the values are measurements and differ between runs).
func sameResults(t *testing.T, want, got []*results.Boot) {
	t.Helper()
	shape := func(boots []*results.Boot) map[string]string {
		m := map[string]string{}
		for _, b := range boots {
			var parts []string
			for _, s := range b.Scenarios {
				for _, mt := range s.Metrics {
					parts = append(parts, s.Name+"/"+mt.Name)
				}
			}
			slices.Sort(parts)
			m[b.Key()] = fmt.Sprintf("%s seq %d %s %s", b.Outcome, b.Seq, b.Release, strings.Join(parts, ","))
		}
		return m
	}
	w, g := shape(want), shape(got)
	for k, v := range w {
		if g[k] != v {
			t.Errorf("boot %s = %q, want %q as in the whole run", k, g[k], v)
		}
	}
	if len(g) != len(w) {
		t.Errorf("%d boots, want %d as in the whole run", len(g), len(w))
	}
}

// verdicts is the verdict part of kvet show's output: the per-kernel
// headers and metric rows, without the run's name and paths.
func verdicts(show string) string {
	var keep []string
	for _, l := range strings.Split(show, "\n") {
		if strings.Contains(l, " vs ") || strings.HasPrefix(strings.TrimSpace(l), "hackbench/") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// metricRows is which kernel pairs and metrics kvet show judged, leaving
// out the metrics of the scenarios in skip.
func metricRows(show string, skip map[string]bool) string {
	var keep []string
	for _, l := range strings.Split(verdicts(show), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[1] == "vs" {
			keep = append(keep, f[0]+" vs "+strings.TrimSuffix(f[2], ":"))
		} else if len(f) > 0 && !skip[strings.SplitN(f[0], "/", 2)[0]] {
			keep = append(keep, f[0])
		}
	}
	return strings.Join(keep, "\n")
}

// invalidScenarios names the scenarios that were invalid in some boot of
// the given runs.
func invalidScenarios(runs ...[]*results.Boot) map[string]bool {
	bad := map[string]bool{}
	for _, boots := range runs {
		for _, b := range boots {
			for _, sc := range b.Scenarios {
				if !sc.Valid {
					bad[sc.Name] = true
				}
			}
		}
	}
	return bad
}

// copyDir copies the named files and directories (one level deep) of src
// into dst.
func copyDir(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	for _, name := range names {
		st, err := os.Stat(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		files := []string{name}
		if st.IsDir() {
			os.RemoveAll(filepath.Join(dst, name))
			ents, err := os.ReadDir(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			files = nil
			for _, e := range ents {
				files = append(files, filepath.Join(name, e.Name()))
			}
			if err := os.MkdirAll(filepath.Join(dst, name), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func editRun(t *testing.T, dir string, edit func(*results.Run)) {
	t.Helper()
	p := filepath.Join(dir, results.RunFile)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var r results.Run
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	if data, err = json.Marshal(&r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// staleDirs lists the boot directories of kvet process pid in the
// temporary folder.
func staleDirs(pid int) []string {
	var dirs []string
	for _, tag := range []string{"kvet-boot-", "kvet-sock-"} {
		m, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", tag, pid)))
		dirs = append(dirs, m...)
	}
	return dirs
}

// scenarioRows reduces metricRows to the kernel pairs and the scenarios
// judged for each: a scenario may report a metric only in some boots (a
// conditional count), which two executions need not share.
func scenarioRows(rows string) string {
	var keep []string
	for _, l := range strings.Split(rows, "\n") {
		l = strings.SplitN(l, "/", 2)[0]
		if len(keep) == 0 || keep[len(keep)-1] != l {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
