package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kvet/kvet/results"
)

func TestWriteTraced(t *testing.T) {
	var b bytes.Buffer
	writeTraced(&b, "/r", nil)
	if b.Len() != 0 {
		t.Errorf("no traced boots: %q, want nothing", b.String())
	}
	writeTraced(&b, "/r", []*results.Boot{
		{Kernel: "a", Outcome: results.OK, Traced: true, Traces: []results.TraceFile{{Scenario: "nagle", File: "traces/a.000.nagle.trace.gz"}, {Scenario: "timer", Error: "tracefs: none"}}},
		{Kernel: "b", Outcome: results.KernelPanic, Reason: "Oops", Traced: true},
	})
	for _, want := range []string{"traced boot of b: kernel-panic: Oops", "trace of timer on a: tracefs: none", "traces: 1 from 2 traced boots in /r/traces", "ui.perfetto.dev"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("writeTraced:\n%s\nlacks %q", b.String(), want)
		}
	}
}

func TestBootName(t *testing.T) {
	for e, want := range map[results.PlanEntry]string{{Kernel: "a", Index: 3}: "boot 3", {Kernel: "a", Trace: true}: "traced boot", {Kernel: "a", Index: 1, Trace: true}: "traced boot 1"} {
		if got := bootName(e); got != want {
			t.Errorf("bootName(%+v) = %q, want %q", e, got, want)
		}
	}
}
