package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// A scenario's number is only worth what it agrees with. TestAgreement runs
// kvet's timer and tcp-rr and the reference tools with matched settings in
// the same guest and boot, through exec: cyclictest (SCHED_FIFO 95, 1 ms,
// a thread per vCPU pinned, unaligned starts, distance 0 as with -h) and
// sockperf ping-pong (64-byte messages over loopback TCP, client and
// server pinned to the CPUs tcp-rr uses, each a process of its own, full
// round trips). Per boot it takes kvet / reference at p50 and p99; the two
// agree when the p50 is within 15% and the p99 within 25% in at least 3 of
// 4 boots. On a KVM host the same bounds hold (KVET_AGREEMENT_ACCEL=kvm
// runs it there).
//
// timer and cyclictest run at the same time, each a process of its own on
// the same vCPU (kvet's through kvet scenario timer --format kv, read with
// exec's outputs): this host is itself a VM whose CPUs its hypervisor takes
// away for 1-4 ms at a time (cyclictest on the host, nothing else running:
// p99 105 us, max 3.6 ms), and under TCG a guest sees 0.5-2% of its 1 kHz
// wakeups that late, which is where a p99 sits. Run one after the other,
// each tool's p99 landed on either side of that edge at random (cyclictest
// against itself 0.25-5x from run to run); run at once, both see the same
// stolen milliseconds (cyclictest against itself 0.81-1.28x). Their
// wakeups sometimes fall close together and one waits for the other, in
// either order, so a boot's value is the median of its runs' ratios.
// tcp-rr and sockperf each take the CPU for their whole window, so they run
// one after the other, A B B A, and a boot's value is the median of kvet's
// runs over the median of sockperf's.
//
// It takes about 6 minutes: make test runs it after the rest of the suite,
// alone.
func TestAgreement(t *testing.T) {
	need(t)
	tools := map[string]string{}
	for _, tool := range []string{"cyclictest", "sockperf", "busybox"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s not installed (make deps-test installs rt-tests, sockperf and busybox-static): %v", tool, err)
		}
		tools[tool] = p
	}
	accel := "tcg"
	if a := os.Getenv("KVET_AGREEMENT_ACCEL"); a != "" {
		accel = a
	}
	// timer's p99 is its 40th-worst wakeup in a 4 s window at 1 kHz;
	// tcp-rr's rests on hundreds of round trips in 2 s.
	const window, timerWindow = 2, 4
	// One vCPU by default: under TCG a wakeup across vCPUs waits for the
	// host to schedule the other vCPU's thread, and on a loaded host that
	// made sockperf's own runs in one boot differ up to sixfold; on one
	// vCPU its runs agree within about 25%. KVET_AGREEMENT_CPUS=2 places
	// client and server on two vCPUs, as tcp-rr does by default.
	cpus := 1
	if c := os.Getenv("KVET_AGREEMENT_CPUS"); c == "2" {
		cpus = 2
	}
	serverCPU := cpus - 1
	const boots = 4
	// QEMU's threads at nice -20 when this host allows it (root or
	// CAP_SYS_NICE), as a user on a shared host would run: the host's other
	// processes (a CPU hog, the rest of CI) then hardly delay the guest.
	// At -10 with one hog beside it, sockperf's runs in a boot differed by
	// up to 1.8x at p50 (0.55 against itself); at -20 within 10% in most boots.
	nice := -20
	if err := runner.CanRenice(nice); err != nil {
		t.Logf("QEMU at kvet's own nice value: %v", err)
		nice = 0
	}
	timerPair := func(label string) string {
		return fmt.Sprintf(`  - name: exec
    label: %s
    params:
      files: [%s, %s]
      outputs:
        - {file: /tmp/kvet.txt, format: kv, prefix: kvet}
        - {file: /tmp/cyclictest.json, format: cyclictest, prefix: cyclictest}
      script: |
        set -e
        kvet scenario timer --param 'variants=[fifo-1ms]' --param duration=%ds --format kv > /tmp/kvet.txt &
        cyclictest -m -p95 -i1000 -t%d -a -D%d -q -h 20000 --histfile=/dev/null --json=/tmp/cyclictest.json >/dev/null
        wait $!
`, label, tools["cyclictest"], kvetBin, timerWindow, cpus, timerWindow)
	}
	tcprr := func(label string) string {
		return fmt.Sprintf(`  - name: tcp-rr
    label: %s
    params: {duration: %ds}
`, label, window)
	}
	sockperf := func(label string) string {
		return fmt.Sprintf(`  - name: exec
    label: %s
    params:
      files: [%s]
      format: sockperf
      script: |
        taskset -c %d sockperf sr --tcp -i 127.0.0.1 -p 11111 >/dev/null &
        sleep 1
        taskset -c 0 sockperf pp --tcp -i 127.0.0.1 -p 11111 -m 64 -t %d --full-rtt
        kill $!
`, label, tools["sockperf"], serverCPU, window)
	}
	timerRuns := labels(8)
	var entries strings.Builder
	for _, run := range timerRuns {
		entries.WriteString(timerPair("timer-cyclictest" + run))
	}
	tcpRuns := labels(6)
	entries.WriteString(abba(tcpRuns, "tcp-rr", "sockperf", tcprr, sockperf))
	m := writeMatrix(t, fmt.Sprintf(`
cpus: %d
qemu_nice: %d
kernels:
  - name: "6.12"
    deb: %s
scenarios:
`, cpus, nice, kernelDeb(t, "6.12"))+entries.String())
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 20*time.Minute, "run", m, "--accel", accel, "--out", out, "--boots", fmt.Sprint(boots), "--fail-on", "none", "--parallel", "1")
	if r.code != 0 {
		t.Fatalf("kvet run = exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	_, bs := readRun(t, out)
	pairs := []struct {
		name, kvet, ref string
		runs            []string
		atOnce          bool
	}{
		{"timer fifo-1ms / cyclictest", "timer-cyclictest%s/kvet.fifo-1ms.latency", "timer-cyclictest%s/cyclictest.latency", timerRuns, true},
		{"tcp-rr / sockperf ping-pong", "tcp-rr%s/rtt", "sockperf%s/rtt", tcpRuns, false},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-30s %-6s %8s %8s\n", "pair", "boot", "p50", "p99")
	for _, pr := range pairs {
		agree, noisy := 0, 0
		for _, b := range bs {
			if b.QEMUNice != nice {
				t.Errorf("boot %s: QEMU's threads at nice %d, want %d", b.Key(), b.QEMUNice, nice)
			}
			if b.Outcome != results.OK {
				t.Errorf("boot %s = %s (%s)\n%s", b.Key(), b.Outcome, b.Reason, b.ConsoleTail)
				continue
			}
			got := bootMetrics(b)
			r50, ok1 := ratio(got, pr.kvet+".p50", pr.ref+".p50", pr.runs, pr.atOnce)
			r99, ok2 := ratio(got, pr.kvet+".p99", pr.ref+".p99", pr.runs, pr.atOnce)
			var alone []string
			for _, run := range pr.runs {
				x50, _ := ratio(got, fmt.Sprintf(pr.kvet, run)+".p50", fmt.Sprintf(pr.ref, run)+".p50", nil, false)
				x99, _ := ratio(got, fmt.Sprintf(pr.kvet, run)+".p99", fmt.Sprintf(pr.ref, run)+".p99", nil, false)
				alone = append(alone, fmt.Sprintf("%.2f/%.2f", x50, x99))
			}
			t.Logf("boot %s %s, each run's p50/p99: %s", b.Key(), pr.name, strings.Join(alone, " "))
			if !ok1 || !ok2 {
				t.Errorf("boot %s: %s: a metric is missing or invalid: %s", b.Key(), pr.name, invalidOf(b))
				continue
			}
			// The reference against itself (its first half of runs over its
			// second) is the noise floor of the boot.
			aa50, _ := refAA(got, pr.ref+".p50", pr.runs)
			aa99, _ := refAA(got, pr.ref+".p99", pr.runs)
			fmt.Fprintf(&table, "%-30s %-6s %8.2f %8.2f   reference A/A %5.2f %5.2f\n", pr.name, b.Key(), r50, r99, aa50, aa99)
			if within(r50, 0.15) && within(r99, 0.25) {
				agree++
			}
			if !within(aa50, 0.15) || !within(aa99, 0.25) {
				noisy++
			}
		}
		if agree < 3 {
			t.Errorf("%s: p50 within 15%% and p99 within 25%% in %d of %d boots, want at least 3 (the reference disagreed with itself as much in %d boots)", pr.name, agree, len(bs), noisy)
		}
	}
	t.Logf("kvet / reference, same guest and boot (%s, QEMU at nice %d):\n%s", accel, nice, table.String())
	// kvet's self-noise during the windows, for the record.
	for _, b := range bs {
		got := bootMetrics(b)
		t.Logf("boot %s self-noise: timer %.0f switches/s %.1f%% CPU; tcp-rr %.0f switches/s %.1f%% CPU", b.Key(),
			got["timer-cyclictest/kvet.fifo-1ms.selfnoise.switches"], got["timer-cyclictest/kvet.fifo-1ms.selfnoise.cpu"],
			got["tcp-rr/selfnoise.switches"], got["tcp-rr/selfnoise.cpu"])
	}
}

// bootMetrics maps "scenario/metric" to the valid scenarios' values.
func bootMetrics(b *results.Boot) map[string]float64 {
	out := map[string]float64{}
	for _, s := range b.Scenarios {
		if !s.Valid || s.Error != "" {
			continue
		}
		for _, m := range s.Metrics {
			out[s.Name+"/"+m.Name] = m.Value
		}
	}
	return out
}

// refAA is the reference against itself: the median of its first half of
// runs over that of its second half.
func refAA(m map[string]float64, ref string, runs []string) (float64, bool) {
	var v []float64
	for _, run := range runs {
		x, ok := m[fmt.Sprintf(ref, run)]
		if !ok || x <= 0 {
			return 0, false
		}
		v = append(v, x)
	}
	return median(v[:len(v)/2]) / median(v[len(v)/2:]), true
}

// labels are the label suffixes of n runs of one tool in a boot: "", "-2",
// "-3" ...
func labels(n int) []string {
	out := []string{""}
	for i := 2; i <= n; i++ {
		out = append(out, fmt.Sprintf("-%d", i))
	}
	return out
}

// abba lists the runs of tools a and b (labels a+suffix, b+suffix) in the
// order A B B A A B B A ...: drift during the boot weighs on both alike.
func abba(runs []string, a, b string, entryA, entryB func(label string) string) string {
	var out strings.Builder
	for i := 0; i+1 < len(runs); i += 2 {
		out.WriteString(entryA(a + runs[i]))
		out.WriteString(entryB(b + runs[i]))
		out.WriteString(entryB(b + runs[i+1]))
		out.WriteString(entryA(a + runs[i+1]))
	}
	return out.String()
}

// ratio is num over den. When they hold a %s for the run's label suffix:
// with paired (the two measured at once in each run), the median of the
// runs' ratios; otherwise the median of num's runs over the median of
// den's.
func ratio(m map[string]float64, num, den string, runs []string, paired bool) (float64, bool) {
	if !strings.Contains(num, "%s") {
		a, ok1 := m[num]
		b, ok2 := m[den]
		if !ok1 || !ok2 || b <= 0 {
			return 0, false
		}
		return a / b, true
	}
	var a, b, each []float64
	for _, run := range runs {
		x, ok1 := m[fmt.Sprintf(num, run)]
		y, ok2 := m[fmt.Sprintf(den, run)]
		if !ok1 || !ok2 || y <= 0 {
			return 0, false
		}
		a, b, each = append(a, x), append(b, y), append(each, x/y)
	}
	if paired {
		return median(each), true
	}
	return median(a) / median(b), true
}

func median(v []float64) float64 {
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func within(r, tol float64) bool { return r >= 1-tol && r <= 1+tol }

func invalidOf(b *results.Boot) string {
	var parts []string
	for _, s := range b.Scenarios {
		if !s.Valid || s.Error != "" {
			parts = append(parts, fmt.Sprintf("%s: invalid %q error %q", s.Name, s.Invalid, s.Error))
		}
	}
	return strings.Join(parts, "; ")
}
