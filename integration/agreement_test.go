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
// round trips). Per boot it
// takes kvet / reference at p50 and p99; the two agree when the p50 is
// within 15% and the p99 within 25% in at least 3 of 4 boots. On a KVM host
// the same bounds hold (KVET_AGREEMENT_ACCEL=kvm runs it there).
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
	// make test runs one boot: the reference tools run in the guest through
	// exec and every metric of both sides is there and valid. The agreement
	// itself needs four boots and a host where the references agree with
	// themselves: make agreement (KVET_AGREEMENT=1) judges it.
	// timer's p99 is its 20th-worst wakeup in a 2 s window at 1 kHz, and a
	// TCG guest's worst wakeups come in bursts from the host: its windows
	// are longer than tcp-rr's, whose p99 rests on hundreds of samples.
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
	boots, judge := 1, os.Getenv("KVET_AGREEMENT") == "1"
	if judge {
		boots = 4
	} else {
		// One boot with two runs of each tool (A B B A): the tools run and
		// both sides' metrics are there, without the judging's length.
		defer func(all []string) { runs = all }(runs)
		runs = runs[:2]
	}
	// QEMU's threads at nice -10 when this host allows it (root or
	// CAP_SYS_NICE), as a user on a shared host would run: the host's other
	// processes (the rest of the test suite, a CPU hog) then hardly delay
	// the guest, and both tools see the same quiet guest.
	nice := -10
	if err := runner.CanRenice(nice); err != nil {
		t.Logf("QEMU at kvet's own nice value: %v", err)
		nice = 0
	}
	// Each tool runs six times in the boot, in the order A B B A A B B A A B
	// B A, and a boot's value is the median of its runs over the median of the
	// reference's: the host's drift and bursts during the boot (a TCG
	// guest feels every other process on the host) weigh on both sides
	// alike.
	timer := func(label string) string {
		return fmt.Sprintf(`  - name: timer
    label: %s
    params: {variants: [fifo-1ms], duration: %ds}
`, label, timerWindow)
	}
	cyclictest := func(label string) string {
		return fmt.Sprintf(`  - name: exec
    label: %s
    params:
      files: [%s]
      format: cyclictest
      script: cyclictest -m -p95 -i1000 -t%d -a -D%d -q -h 20000 --histfile=/dev/null --json=/tmp/c.json >/dev/null && cat /tmp/c.json
`, label, tools["cyclictest"], cpus, timerWindow)
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
	m := writeMatrix(t, fmt.Sprintf(`
cpus: %d
qemu_nice: %d
kernels:
  - name: "6.12"
    deb: %s
scenarios:
`, cpus, nice, kernelDeb(t, "6.12"))+
		abba("timer", "cyclictest", timer, cyclictest)+abba("tcp-rr", "sockperf", tcprr, sockperf))
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 20*time.Minute, "run", m, "--accel", accel, "--out", out, "--boots", fmt.Sprint(boots), "--fail-on", "none", "--parallel", "1")
	if r.code != 0 {
		t.Fatalf("kvet run = exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	_, bs := readRun(t, out)
	pairs := []struct{ name, kvet, ref string }{
		{"timer fifo-1ms / cyclictest", "timer%s/fifo-1ms.latency", "cyclictest%s/latency"},
		{"tcp-rr / sockperf ping-pong", "tcp-rr%s/rtt", "sockperf%s/rtt"},
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
			r50, ok1 := ratio(got, pr.kvet+".p50", pr.ref+".p50")
			r99, ok2 := ratio(got, pr.kvet+".p99", pr.ref+".p99")
			for _, run := range runs {
				x50, _ := ratio(got, fmt.Sprintf(pr.kvet, run)+".p50", fmt.Sprintf(pr.ref, run)+".p50")
				x99, _ := ratio(got, fmt.Sprintf(pr.kvet, run)+".p99", fmt.Sprintf(pr.ref, run)+".p99")
				t.Logf("boot %s %s, run %q alone: p50 %.2f p99 %.2f", b.Key(), pr.name, run, x50, x99)
			}
			if !ok1 || !ok2 {
				t.Errorf("boot %s: %s: a metric is missing or invalid: %s", b.Key(), pr.name, invalidOf(b))
				continue
			}
			// The reference against itself (its first run over its second)
			// is the noise floor of the boot: a guest under TCG feels every
			// other process on the host.
			aa50, _ := refAA(got, pr.ref+".p50")
			aa99, _ := refAA(got, pr.ref+".p99")
			fmt.Fprintf(&table, "%-30s %-6s %8.2f %8.2f   reference A/A %5.2f %5.2f\n", pr.name, b.Key(), r50, r99, aa50, aa99)
			if within(r50, 0.15) && within(r99, 0.25) {
				agree++
			}
			if !within(aa50, 0.15) || !within(aa99, 0.25) {
				noisy++
			}
		}
		if !judge {
			t.Logf("%s: p50 within 15%% and p99 within 25%% in %d of %d boots (judged by make agreement)", pr.name, agree, len(bs))
		} else if agree < 3 {
			t.Errorf("%s: p50 within 15%% and p99 within 25%% in %d of %d boots, want at least 3 (the reference disagreed with itself as much in %d boots: the host is too loaded to judge)", pr.name, agree, len(bs), noisy)
		}
	}
	t.Logf("kvet / reference, same guest and boot (%s):\n%s", accel, table.String())
	// kvet's self-noise during the windows, for the record.
	for _, b := range bs {
		got := bootMetrics(b)
		t.Logf("boot %s self-noise: timer %.0f switches/s %.1f%% CPU; tcp-rr %.0f switches/s %.1f%% CPU", b.Key(),
			got["timer/fifo-1ms.selfnoise.switches"], got["timer/fifo-1ms.selfnoise.cpu"],
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
func refAA(m map[string]float64, ref string) (float64, bool) {
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

// runs are the label suffixes of one tool's runs in a boot.
var runs = []string{"", "-2", "-3", "-4", "-5", "-6"}

// abba lists the runs of tools a and b (labels a+suffix, b+suffix) in the
// order A B B A A B B A ...: drift during the boot weighs on both alike.
func abba(a, b string, entryA, entryB func(label string) string) string {
	var out strings.Builder
	for i := 0; i < len(runs); i += 2 {
		out.WriteString(entryA(a + runs[i]))
		out.WriteString(entryB(b + runs[i]))
		out.WriteString(entryB(b + runs[i+1]))
		out.WriteString(entryA(a + runs[i+1]))
	}
	return out.String()
}

// ratio is num over den; when they hold a %s for the run's label suffix,
// the median of num's runs over the median of den's.
func ratio(m map[string]float64, num, den string) (float64, bool) {
	if !strings.Contains(num, "%s") {
		a, ok1 := m[num]
		b, ok2 := m[den]
		if !ok1 || !ok2 || b <= 0 {
			return 0, false
		}
		return a / b, true
	}
	var a, b []float64
	for _, run := range runs {
		x, ok1 := m[fmt.Sprintf(num, run)]
		y, ok2 := m[fmt.Sprintf(den, run)]
		if !ok1 || !ok2 || y <= 0 {
			return 0, false
		}
		a, b = append(a, x), append(b, y)
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
