package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// The corpus in testdata/console is real serial consoles of real guests,
// made with kvet itself; testdata/console/README says how each was made.
// Each file is judged with the evidence its boot had.
func TestClassifyCorpus(t *testing.T) {
	tests := []struct {
		file   string
		ev     Evidence
		report string // firstReport, "" for none
		want   results.Outcome
		reason string // the reason, exactly
	}{
		{
			file:   "panic-noinit-6.12.log",
			ev:     Evidence{Events: []string{"SHUTDOWN:guest-reset"}, Exited: true},
			report: "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
			want:   results.KernelPanic,
			reason: "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
		},
		{
			file:   "panic-sysrq-6.12.log",
			ev:     Evidence{Events: []string{"GUEST_PANICKED"}, Hello: true},
			report: "Kernel panic - not syncing: sysrq triggered crash",
			want:   results.KernelPanic,
			reason: "Kernel panic - not syncing: sysrq triggered crash",
		},
		{
			file: "clean-6.12.log",
			ev:   Evidence{Events: []string{"SHUTDOWN:guest-shutdown"}, Hello: true, Done: true, Exited: true},
			want: results.OK,
		},
		{
			file: "clean-stopped-loglevel7-6.12.log",
			ev:   Evidence{Events: []string{"SHUTDOWN:guest-shutdown"}, Hello: true, Done: true, Exited: true},
			want: results.OK,
		},
		{
			file:   "hang-6.12.log",
			ev:     Evidence{Hello: true, Timeout: 40 * time.Second},
			want:   results.Hang,
			reason: "no done frame within 40s; last console line: kvet: scenario exec: started",
		},
		{
			// The guest ran on after the stall: the boot is ok, and the
			// report is there to quote.
			file:   "softlockup-stopped-6.12.log",
			ev:     Evidence{Events: []string{"SHUTDOWN:guest-shutdown"}, Hello: true, Done: true, Exited: true},
			report: "watchdog: BUG: soft lockup - CPU#0 stuck for 59s! [sysrq:162]",
			want:   results.OK,
		},
		{
			// The same console had the boot not finished: the hang quotes
			// the first report, not the last line.
			file:   "softlockup-stopped-6.12.log",
			ev:     Evidence{Hello: true, Timeout: 5 * time.Minute},
			report: "watchdog: BUG: soft lockup - CPU#0 stuck for 59s! [sysrq:162]",
			want:   results.Hang,
			reason: "no done frame within 5m0s; console: watchdog: BUG: soft lockup - CPU#0 stuck for 59s! [sysrq:162]",
		},
		{
			// Two reports interleaved by two CPUs: the RCU stall came first.
			file:   "rcustall-softlockup-stopped-6.1.log",
			ev:     Evidence{Hello: true, Timeout: 5 * time.Minute},
			report: "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
			want:   results.Hang,
			reason: "no done frame within 5m0s; console: rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "console", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			console := string(b)
			if got, _ := firstReport(console); got != tt.report {
				t.Errorf("firstReport(%s) = %q, want %q", tt.file, got, tt.report)
			}
			ev := tt.ev
			ev.Console = console
			out, reason := Classify(ev)
			if out != tt.want || reason != tt.reason {
				t.Errorf("Classify(%s) = %s %q, want %s %q", tt.file, out, reason, tt.want, tt.reason)
			}
			// The console watch ends a boot on exactly the panics.
			if got, want := strings.Contains(console, string(consolePanicMarker)), tt.want == results.KernelPanic; got != want {
				t.Errorf("%s: console panic marker found %v, want %v", tt.file, got, want)
			}
		})
	}
}
