package integration

import (
	"compress/gzip"
	stdhtml "html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// TestTraceNagle: kvet run --trace adds one traced boot after the
// measurement boot; its trace of nagle is ftrace text that parses, holds
// the scheduler and TCP events, and shows the delayed-ACK stall: a thread
// of the exchange goes ~40 ms without an event while the delayed-ACK timer
// fires. The measurement boot carries no trace, and the report links it.
func TestTraceNagle(t *testing.T) {
	need(t)
	deb := kernelDeb(t, "6.12")
	out := filepath.Join(t.TempDir(), "run")
	r := kvet(t, 6*time.Minute, "run", "--kernel", deb, "--boots", "1", "--scenario", "nagle", "--accel", "tcg", "--trace", "--out", out)
	if r.code != 0 {
		t.Fatalf("kvet run --trace = exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "traces: 1 from 1 traced boots") {
		t.Errorf("kvet run --trace does not say where the traces are:\n%s", r.stdout)
	}
	_, boots := readRun(t, out)
	if len(boots) != 1 || boots[0].Traced || len(boots[0].Traces) != 0 {
		t.Fatalf("measurement boots: %d, the first traced %v with %d traces; want one untraced", len(boots), len(boots) > 0 && boots[0].Traced, len(boots[0].Traces))
	}
	d, _, err := results.OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	traced, err := d.TracedBoots()
	if err != nil || len(traced) != 1 || traced[0].Outcome != results.OK || len(traced[0].Traces) != 1 {
		t.Fatalf("traced boots: %d (%v); want one ok with nagle's trace", len(traced), err)
	}
	tf := traced[0].Traces[0]
	if tf.Scenario != "nagle" || tf.File == "" || tf.Error != "" {
		t.Fatalf("trace = %+v, want nagle's", tf)
	}
	t.Logf("trace of nagle: %d events, %d bytes of text, measurement boot %v, traced boot %v", tf.Events, tf.Bytes, boots[0].Wall, traced[0].Wall)
	f, err := os.Open(filepath.Join(out, tf.File))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", tf.File, err)
	}
	tr, err := results.ParseFtrace(z)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var delack []time.Duration
	for _, e := range tr.Events {
		count[e.Name]++
		if e.Name == "timer_expire_entry" && e.Fields["function"] == "tcp_delack_timer" {
			delack = append(delack, e.Time)
		}
	}
	for _, name := range []string{"sched_switch", "sched_wakeup", "sched_waking", "tcp_probe"} {
		if count[name] == 0 {
			t.Errorf("no %s events in the trace (%v)", name, count)
		}
	}
	if tr.Unparsed != 0 || int64(len(tr.Events)) != tf.Events {
		t.Errorf("parsed %d events, %d lines unparsed; the boot recorded %d events", len(tr.Events), tr.Unparsed, tf.Events)
	}
	if len(delack) == 0 {
		t.Fatalf("no tcp_delack_timer expiry in the trace (%v)", count)
	}
	// The stall: some thread of the exchange (the agent's threads are all
	// called init) waits 30 ms or more with a delayed-ACK expiry inside.
	pids := map[int]bool{}
	for _, e := range tr.Events {
		if e.Task == "init" {
			pids[e.PID] = true
		}
	}
	var stall *results.FtraceGap
	for pid := range pids {
		g, ok := tr.LongestGap(results.OfPID(pid))
		if !ok || g.Length < 30*time.Millisecond {
			continue
		}
		for _, at := range delack {
			if at > g.From.Time && at < g.To.Time {
				stall = &g
			}
		}
	}
	if stall == nil {
		t.Errorf("no thread of the exchange stalls for 30 ms or more around a delayed-ACK expiry")
	} else {
		t.Logf("stall: %v from %s to %s", stall.Length, stall.From.Name, stall.To.Name)
	}
	html, err := os.ReadFile(filepath.Join(out, results.ReportHTML))
	if err != nil || !strings.Contains(stdhtml.UnescapeString(string(html)), `href="`+filepath.ToSlash(tf.File)+`"`) {
		t.Errorf("report.html does not link %s (%v)", tf.File, err)
	}
}
