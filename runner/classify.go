package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/kvet/kvet/results"
)

// Evidence is what a boot left behind, gathered by Boot and judged by
// Classify.
type Evidence struct {
	// Events are the QMP events in order, SHUTDOWN carrying its reason as
	// "SHUTDOWN:guest-shutdown".
	Events []string
	// Status is QEMU's run state after a STOP event ("internal-error", ...).
	Status string
	// Hello and Done say whether those frames arrived.
	Hello, Done bool
	// Timeout is set when the boot ran out of time.
	Timeout time.Duration
	// Interrupted is set when the caller cancelled the boot.
	Interrupted bool
	// StartErr is why QEMU could not be started or attached (QMP).
	StartErr error
	// Exited says QEMU exited by itself, ExitErr with which status (nil: 0).
	Exited  bool
	ExitErr error
	// Stderr is the end of QEMU's standard error.
	Stderr string
	// FrameErr is the error that ended the results stream early (a corrupt
	// or truncated frame), nil for a clean end.
	FrameErr error
	// AgentErrors are the texts of Error frames; ScenarioErrors the Error
	// fields of scenario results ("name: text").
	AgentErrors, ScenarioErrors []string
	// Console is the end of the serial console.
	Console string
}

func (e Evidence) has(event string) bool {
	for _, ev := range e.Events {
		if ev == event {
			return true
		}
	}
	return false
}

// panicLine returns the console's "Kernel panic" line, if any.
func panicLine(console string) (string, bool) {
	for _, l := range strings.Split(console, "\n") {
		if i := strings.Index(l, "Kernel panic"); i >= 0 {
			return strings.TrimSpace(l[i:]), true
		}
	}
	return "", false
}

// lastLine returns the console's last non-empty line.
func lastLine(console string) string {
	lines := strings.Split(strings.TrimRight(console, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "(empty console)"
}

// Classify decides a boot's outcome and a one-line reason from its evidence.
// The kernel is blamed (kernel-panic, hang, agent-error) only for what the
// guest did; anything the host or QEMU did wrong is an infra-error.
func Classify(e Evidence) (results.Outcome, string) {
	if e.Interrupted {
		return results.InfraError, "interrupted"
	}
	if e.StartErr != nil {
		return results.InfraError, e.StartErr.Error()
	}
	line, panicked := panicLine(e.Console)
	if e.has("GUEST_PANICKED") || panicked {
		if !panicked {
			line = "guest panicked (pvpanic); last console line: " + lastLine(e.Console)
		}
		return results.KernelPanic, line
	}
	if e.has("STOP") && !e.Done {
		// kvet never stops the VM: a STOP is QEMU giving up on the guest,
		// typically a KVM "internal error" (emulation failure) on a broken host.
		st := e.Status
		if st == "" {
			st = "unknown state"
		}
		msg := fmt.Sprintf("vm stopped (%s)", st)
		if l := errorLine(e.Stderr); l != "" {
			msg += ": qemu: " + l
		}
		return results.InfraError, msg + "; last console line: " + lastLine(e.Console)
	}
	if e.Done {
		switch {
		case e.FrameErr != nil:
			return results.AgentError, "results stream: " + e.FrameErr.Error()
		case len(e.AgentErrors) > 0:
			return results.AgentError, "agent: " + e.AgentErrors[0]
		case len(e.ScenarioErrors) > 0:
			return results.AgentError, "scenario " + e.ScenarioErrors[0]
		}
		return results.OK, ""
	}
	if e.Timeout > 0 {
		return results.Hang, fmt.Sprintf("no done frame within %s; last console line: %s", e.Timeout, lastLine(e.Console))
	}
	if e.has("SHUTDOWN:guest-reset") {
		return results.AgentError, "guest reset"
	}
	if e.FrameErr != nil {
		return results.AgentError, "results stream: " + e.FrameErr.Error()
	}
	if len(e.AgentErrors) > 0 {
		return results.AgentError, "agent: " + e.AgentErrors[0]
	}
	if e.has("SHUTDOWN:guest-shutdown") {
		return results.AgentError, "guest powered off without a done frame; last console line: " + lastLine(e.Console)
	}
	if e.Exited && e.ExitErr != nil {
		msg := "qemu exited: " + e.ExitErr.Error()
		if s := strings.TrimSpace(e.Stderr); s != "" {
			msg += ": " + lastLine(s)
		}
		return results.InfraError, msg
	}
	if e.Exited {
		return results.InfraError, "qemu exited without a guest shutdown"
	}
	return results.InfraError, "boot ended without a done frame"
}

// errorLine returns the first line of QEMU's stderr that reports an error
// (the rest of a KVM failure is a register dump), or its last line.
func errorLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(strings.ToLower(l), "error") {
			return strings.TrimSpace(l)
		}
	}
	if strings.TrimSpace(stderr) == "" {
		return ""
	}
	return lastLine(stderr)
}

// tail returns the last n lines of s, ending with a newline.
func tail(s string, n int) string {
	if t := results.LastLines(s, n); t != "" {
		return t + "\n"
	}
	return ""
}
