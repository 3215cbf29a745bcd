package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// writeMatrix writes a matrix file into the test's directory.
func writeMatrix(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "matrix.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTwoKernelsTimer is the core path: two real Debian kernels boot under
// TCG from local .deb files, run timer quick, and their results arrive.
// 6.1 and 6.12 differ (clocksource, scheduler), so a decided regression is
// the kernels' answer, not a failure of the path: the exit code must follow
// the verdicts.
func TestTwoKernelsTimer(t *testing.T) {
	need(t)
	deb61, deb612 := kernelDeb(t, "6.1"), kernelDeb(t, "6.12")
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 15*time.Minute, "run", "--kernel", deb61, "--kernel", deb612, "--boots", "2",
		"--scenario", "timer", "--accel", "tcg", "--out", out)
	if r.code != 0 && r.code != 1 {
		_, boots := readRun(t, out)
		t.Fatalf("kvet run = exit %d, want 0 or 1 (a verdict)\nstdout:\n%s\nstderr:\n%s\nboots: %s", r.code, r.stdout, r.stderr, describe(boots))
	}
	if c := readReports(t, out); r.code != exitOf(c.Failed(nil)) {
		t.Errorf("kvet run = exit %d, want %d from its verdicts\nstdout:\n%s", r.code, exitOf(c.Failed(nil)), r.stdout)
	}
	run, boots := readRun(t, out)
	if len(run.Kernels) != 2 || len(boots) != 4 {
		t.Fatalf("run has %d kernels and %d boots, want 2 and 4", len(run.Kernels), len(boots))
	}
	releases := map[string]bool{}
	for _, b := range boots {
		if b.Outcome != results.OK {
			t.Errorf("boot %s = %s (%s), want ok", b.Key(), b.Outcome, b.Reason)
			continue
		}
		releases[b.Release] = true
		if b.Accel != "tcg" {
			t.Errorf("boot %s accel = %q, want tcg", b.Key(), b.Accel)
		}
		if len(b.Scenarios) != 1 || b.Scenarios[0].Name != "timer" || !b.Scenarios[0].Valid {
			t.Errorf("boot %s scenarios = %+v, want one valid timer", b.Key(), b.Scenarios)
			continue
		}
		var p99 bool
		for _, m := range b.Scenarios[0].Metrics {
			if strings.HasSuffix(m.Name, ".p99") && m.Value > 0 && m.Samples > 0 {
				p99 = true
			}
		}
		if !p99 || len(b.Scenarios[0].Histograms) == 0 {
			t.Errorf("boot %s: timer has no p99 or no histograms", b.Key())
		}
		if b.FirstFrame <= 0 || b.FirstFrame > b.Wall {
			t.Errorf("boot %s: first frame at %s of %s", b.Key(), b.FirstFrame, b.Wall)
		}
		if _, err := os.Stat(filepath.Join(out, b.ConsoleFile)); err != nil {
			t.Errorf("boot %s: console log: %v", b.Key(), err)
		}
	}
	if !strings.HasPrefix(strings.Join(keys(releases), ","), "6.") || len(releases) != 2 {
		t.Errorf("releases = %v, want a 6.1 and a 6.12", keys(releases))
	}
	show := kvet(t, time.Minute, "show", out)
	if show.code != 0 {
		t.Fatalf("kvet show = exit %d: %s", show.code, show.stderr)
	}
	for _, want := range []string{"timer/fifo-1ms.latency.p99", "timer/fifo-1ms.latency.p50", run.Kernels[0].Name, run.Kernels[1].Name} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("kvet show does not print %q:\n%s", want, show.stdout)
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPanicIsReported: a kernel parameter that panics the guest ends the
// boot as kernel-panic within seconds, with the console's tail; the boot
// runs once more to confirm the fault, and the panic comes back.
func TestPanicIsReported(t *testing.T) {
	need(t)
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 5*time.Minute, "run", "--kernel", kernelDeb(t, "6.12"), "--boots", "1", "--scenario", "timer",
		"--accel", "tcg", "--append", "rdinit=/nonexistent", "--timeout", "3m", "--out", out, "--retries", "0")
	if r.code != 1 {
		t.Fatalf("kvet run = exit %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	_, boots := readRun(t, out)
	if len(boots) != 1 || boots[0].Outcome != results.KernelPanic {
		t.Fatalf("boots = %s, want one kernel-panic", describe(boots))
	}
	if b := boots[0]; b.Wall > time.Minute || !strings.Contains(b.ConsoleTail, "Kernel panic") {
		t.Errorf("panic boot took %s with console tail %q; want seconds and the panic message", b.Wall, b.ConsoleTail)
	}
	if !says(r.stdout+r.stderr, "Kernel panic") {
		t.Errorf("the report does not show the console's tail:\n%s\n%s", r.stdout, r.stderr)
	}
	if u := boots[0].Unconfirmed; len(u) != 1 || u[0].Outcome != results.KernelPanic || len(u[0].Decisive) == 0 {
		t.Errorf("the panic's first try = %+v, want one kernel-panic with its decisive lines", u)
	} else if _, err := os.Stat(filepath.Join(out, u[0].ConsoleFile)); err != nil {
		t.Errorf("the first try's console: %v", err)
	}
	if !says(r.stdout, "reproduced on a rerun") {
		t.Errorf("the report does not say the panic reproduced:\n%s", r.stdout)
	}
}

// TestOneOffPanic: a guest that panics once and then boots normally is a
// one-off: the boot is run again on the same kernel, the rerun is OK, the
// panic's first try is kept with its decisive lines, the report says it did
// not reproduce, and the run does not fail. The exec script panics the
// guest through sysrq on the first attempt of b's boot only.
func TestOneOffPanic(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	m := writeMatrix(t, `
kernels:
  - name: a
    deb: `+deb+`
  - name: b
    deb: `+deb+`
scenarios:
  - name: exec
    label: panic-once
    params:
      format: kv
      script: |
        if [ "$KVET_KERNEL" = b ] && [ "$KVET_ATTEMPT" = 1 ]; then echo c > /proc/sysrq-trigger; sleep 60; fi
        echo ran 1 count
`)
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 8*time.Minute, "run", m, "--boots", "1", "--accel", "tcg", "--out", out, "--retries", "0", "--timeout", "3m")
	if r.code != 0 {
		t.Fatalf("kvet run = exit %d, want 0 (a one-off is not a failure)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	_, boots := readRun(t, out)
	var b *results.Boot
	for _, x := range boots {
		if x.Outcome != results.OK {
			t.Errorf("boot %s = %s (%s), want ok", x.Key(), x.Outcome, x.Reason)
		}
		if x.Kernel == "b" {
			b = x
		} else if len(x.Unconfirmed) != 0 {
			t.Errorf("boot %s was rerun: %+v", x.Key(), x.Unconfirmed)
		}
	}
	if b == nil {
		t.Fatalf("no boot of b in %s", describe(boots))
	}
	if b.Attempt != 2 {
		t.Errorf("b's boot ended at attempt %d, want 2 (the rerun)", b.Attempt)
	}
	u := b.Unconfirmed
	if len(u) != 1 || u[0].Outcome != results.KernelPanic {
		t.Fatalf("b's first try = %+v, want one kernel-panic", u)
	}
	if !strings.Contains(strings.Join(u[0].Decisive, "\n"), "sysrq") {
		t.Errorf("the panic's decisive lines %q do not name the sysrq crash", u[0].Decisive)
	}
	if u[0].Artefact != "" {
		t.Errorf("a sysrq crash was taken for an emulator artefact: %q", u[0].Artefact)
	}
	if _, err := os.Stat(filepath.Join(out, u[0].ConsoleFile)); err != nil {
		t.Errorf("the first try's console: %v", err)
	}
	if !says(r.stdout, "b vs a: INFO: nothing changed, 1 one-off fault that did not reproduce") || !says(r.stdout, "sysrq triggered crash") {
		t.Errorf("the report does not call the panic a one-off:\n%s", r.stdout)
	}
	if says(r.stdout, "regression") {
		t.Errorf("the one-off panic was reported as a regression:\n%s", r.stdout)
	}
}

// TestHangAtTimeout: a guest that does not answer before the boot's
// timeout ends as hang, and QEMU is gone.
func TestHangAtTimeout(t *testing.T) {
	need(t)
	m := writeMatrix(t, `
kernels:
  - name: k
    deb: `+kernelDeb(t, "6.12")+`
scenarios:
  - name: timer
    params: {duration: 5m}
`)
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 5*time.Minute, "run", m, "--boots", "1", "--accel", "tcg", "--timeout", "75s", "--out", out, "--retries", "0", "--confirm", "0")
	if r.code != 1 {
		t.Fatalf("kvet run = exit %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	_, boots := readRun(t, out)
	if len(boots) != 1 || boots[0].Outcome != results.Hang {
		t.Fatalf("boots = %s, want one hang", describe(boots))
	}
	if w := boots[0].Wall; w < 75*time.Second || w > 105*time.Second {
		t.Errorf("hang boot took %s, want about the 75s timeout", w)
	}
	// The console's tail says where the guest stood.
	if !strings.Contains(boots[0].ConsoleTail, "scenario timer: started") {
		t.Errorf("hang's console tail does not show the running scenario:\n%s", boots[0].ConsoleTail)
	}
}

// TestAccel: KVM on a host where it is broken is a clear infrastructure
// error; auto falls back to TCG and completes.
func TestAccel(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	out := filepath.Join(t.TempDir(), "kvm")
	r := kvet(t, 5*time.Minute, "run", "--kernel", deb, "--boots", "1", "--scenario", "timer", "--accel", "kvm", "--out", out)
	switch r.code {
	case 0: // KVM works on this host
		run, _ := readRun(t, out)
		if run.Accel != "kvm" {
			t.Errorf("--accel kvm ran with %q", run.Accel)
		}
	case 3:
		if !strings.Contains(strings.ToLower(r.stderr), "kvm") || !strings.Contains(r.stderr, "--accel tcg") {
			t.Errorf("--accel kvm failed without a clear message:\n%s", r.stderr)
		}
	default:
		t.Errorf("--accel kvm = exit %d, want 0 (KVM works) or 3 (KVM broken)\n%s", r.code, r.stderr)
	}
	out = filepath.Join(t.TempDir(), "auto")
	r = kvet(t, 10*time.Minute, "run", "--kernel", deb, "--boots", "1", "--scenario", "timer", "--accel", "auto", "--out", out, "--fail-on", "none")
	if r.code != 0 {
		t.Fatalf("--accel auto = exit %d, want 0\n%s", r.code, r.stderr)
	}
	run, boots := readRun(t, out)
	if len(boots) != 1 || boots[0].Outcome != results.OK || boots[0].Accel != run.Accel {
		t.Errorf("--accel auto: boots %+v, run accel %s", boots, run.Accel)
	}
	if run.Accel == "tcg" && !strings.Contains(r.stderr, "TCG") && !strings.Contains(r.stderr, "tcg") {
		t.Errorf("auto fell back to TCG without a warning:\n%s", r.stderr)
	}
}

// TestBadInput: errors name the file and line, exit 2, nothing half-written.
func TestBadInput(t *testing.T) {
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	m := writeMatrix(t, "kernels:\n  - name: a\n    pakage: linux-image-cloud-amd64\n")
	r := kvet(t, time.Minute, "run", m)
	if r.code != 2 || !strings.Contains(r.stderr, m+":3:") {
		t.Errorf("typo in matrix: exit %d, stderr %q; want 2 and %s:3:", r.code, r.stderr, m)
	}
	junk := filepath.Join(t.TempDir(), "junk.deb")
	os.WriteFile(junk, []byte("this is not a kernel package"), 0o644)
	out := filepath.Join(t.TempDir(), "run")
	r = kvet(t, time.Minute, "run", "--kernel", junk, "--out", out)
	if r.code != 2 || !strings.Contains(r.stderr, "junk.deb") {
		t.Errorf("junk .deb: exit %d, stderr %q; want 2 naming the file", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a run directory was written for bad input")
	}
}

// describe summarises boots for a failure message.
func describe(boots []*results.Boot) string {
	var parts []string
	for _, b := range boots {
		parts = append(parts, fmt.Sprintf("%s: %s (%s) after %s; console tail:\n%s", b.Key(), b.Outcome, b.Reason, b.Wall, b.ConsoleTail))
	}
	return fmt.Sprintf("%d boots [%s]", len(boots), strings.Join(parts, "; "))
}
