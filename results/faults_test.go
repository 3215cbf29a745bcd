package results

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestOneOffFaults: a boot whose panic did not come back on a rerun is not
// a fault of the kernel (the run does not fail) but is said, with its
// decisive lines; a panic that came back is a fault.
func TestOneOffFaults(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := bootsOf("base", 3, 0, r, lognormal("t.p50", 100, 0.02))
	cand := bootsOf("cand", 3, 1, r, lognormal("t.p50", 100, 0.02))
	base[0].Accel, cand[0].Accel = "tcg", "tcg"
	oops := "[    1.0] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n[    1.0] RIP: 0010:sched_clock_cpu+0x10/0x40\n[    1.0] Call Trace:\n[    1.0]  <IRQ>\n[    1.0]  ? die+0x1/0x2\n[    1.0]  irqtime_account_irq+0x1/0x2\n[    1.0]  </IRQ>\n[    1.0] Kernel panic - not syncing: Fatal exception in interrupt\n"
	cand[1].Unconfirmed = []FaultTry{{Outcome: KernelPanic, Reason: "Kernel panic - not syncing: Fatal exception in interrupt",
		Decisive: DecisiveLines(oops), Artefact: KnownArtefact("tcg", oops)}}
	c := Compare("base", append(base, cand...), CompareOptions{})
	k := c.Kernels[0]
	if len(k.Faults) != 0 || c.Failed(nil) || KernelFailed(cand) {
		t.Errorf("a one-off panic counts as a fault: faults %v, failed %v", k.Faults, c.Failed(nil))
	}
	note := strings.Join(k.Notes, "\n")
	for _, want := range []string{"did not reproduce", "cand#1", "TCG artefact", "Oops: int3", "RIP: 0010:sched_clock_cpu", "irqtime_account_irq"} {
		if !strings.Contains(note, want) {
			t.Errorf("notes %q do not say %q", note, want)
		}
	}
	if strings.Contains(note, "? die") {
		t.Errorf("notes quote a guessed frame: %q", note)
	}

	// The same panic twice: a fault, reported as reproduced.
	cand[1].Outcome, cand[1].Reason, cand[1].ConsoleTail, cand[1].Scenarios = KernelPanic, "Kernel panic - not syncing: Fatal exception in interrupt", oops, nil
	c = Compare("base", append(base, cand...), CompareOptions{})
	k = c.Kernels[0]
	if len(k.Faults) != 1 || k.Faults[0].Count != 1 || !c.Failed(nil) || !strings.Contains(strings.Join(k.Notes, "\n"), "reproduced") {
		t.Errorf("a reproduced panic: faults %+v, notes %q; want one fault, failed, and the note", k.Faults, k.Notes)
	}
	if d := k.Faults[0].Decisive; len(d) < 3 || !strings.HasPrefix(d[0], "Oops: int3") || d[len(d)-1] != "Kernel panic - not syncing: Fatal exception in interrupt" {
		t.Errorf("decisive lines = %q, want the Oops line first and the panic last", d)
	}
}
