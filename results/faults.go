package results

import (
	"fmt"
	"regexp"
	"strings"
)

// consoleStamp is the kernel's printk time stamp at the start of a line.
var consoleStamp = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s?`)

// faultStarts are the console lines that open a kernel's report of a fault.
var faultStarts = []string{"Kernel panic - not syncing", "Oops:", "BUG:", "general protection fault", "kernel BUG at", "INFO: task", "INFO: rcu_", "rcu: INFO:", "watchdog: BUG: soft lockup", "Unable to handle"}

// DecisiveLines picks from a console the lines that say what happened: the
// first fault line (Oops, BUG, panic...), its RIP, the first frames of its
// call trace and the panic line, without time stamps, in console order. The
// register dump that comes last is left out.
func DecisiveLines(console string) []string {
	var out []string
	lines := strings.Split(console, "\n")
	start := -1
	for i, l := range lines {
		l = strings.TrimSpace(consoleStamp.ReplaceAllString(strings.TrimSpace(l), ""))
		if start < 0 && isFaultStart(l) {
			start = i
			out = append(out, l)
		}
	}
	if start < 0 {
		return nil
	}
	frames, inTrace, rip := 0, false, false
	panicLine := ""
	for _, l := range lines[start+1:] {
		l = strings.TrimSpace(consoleStamp.ReplaceAllString(strings.TrimSpace(l), ""))
		switch {
		case strings.HasPrefix(l, "Kernel panic - not syncing"):
			if panicLine == "" && l != out[0] {
				panicLine = l
			}
		case strings.HasPrefix(l, "RIP:") && !rip:
			rip = true
			out = append(out, l)
		case strings.HasPrefix(l, "Call Trace:"):
			inTrace = frames == 0
		case inTrace && (l == "<TASK>" || l == "<IRQ>" || strings.HasPrefix(l, "? ")):
		case inTrace && (strings.HasPrefix(l, "</") || l == "" || strings.HasPrefix(l, "Modules linked in")):
			inTrace = false
		case inTrace && frames < 5:
			frames++
			out = append(out, "  "+l)
		}
	}
	if panicLine != "" {
		out = append(out, panicLine)
	}
	return out
}

func isFaultStart(l string) bool {
	for _, p := range faultStarts {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// KnownArtefact names a fault that the emulator, not the kernel, is known
// to cause, or says "". Under TCG a kernel's live code patching can leave
// an int3 that the kernel did not place (seen in sched_clock_cpu on 6.12):
// the guest oopses with "Oops: int3" and the same kernel boots fine again.
func KnownArtefact(accel, console string) string {
	if accel == "tcg" && strings.Contains(console, "Oops: int3") {
		return "a known TCG artefact (an int3 from live code patching under emulation)"
	}
	return ""
}

// oneOffMark is what a note of a fault that did not reproduce says.
const oneOffMark = "did not reproduce on a rerun of the same kernel"

// oneOffs describes the faults of a kernel's boots that were run again and
// did not reproduce, and those that did.
func oneOffs(boots []*Boot) []string {
	var notes []string
	for _, b := range boots {
		for _, f := range b.Unconfirmed {
			what := fmt.Sprintf("%s in boot %s %s (a one-off, not counted as a fault)", f.Outcome, b.Key(), oneOffMark)
			if b.Outcome.KernelFault() {
				what = fmt.Sprintf("%s in boot %s reproduced on a rerun of the same kernel", f.Outcome, b.Key())
			}
			if f.Artefact != "" {
				what += "; " + f.Artefact
			}
			if len(f.Decisive) > 0 {
				what += ": " + strings.Join(f.Decisive, " | ")
			} else if f.Reason != "" {
				what += ": " + f.Reason
			}
			notes = append(notes, what)
		}
	}
	return notes
}
