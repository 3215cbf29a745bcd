package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// runSpec describes a run directory a test writes.
type runSpec struct {
	id, cpu, kvetVersion, accel string
	// kernels: name -> per-boot values of the two metrics (stall ratio,
	// round trip p50 in ns).
	kernels []kernelSpec
}

type kernelSpec struct {
	name    string
	stalled []float64
	rtt     []float64
}

// writeRun writes a finished run directory: run.json and one boot file per
// value, kernels interleaved in the plan.
func writeRun(t *testing.T, dir string, s runSpec) string {
	t.Helper()
	if s.accel == "" {
		s.accel = "kvm"
	}
	run := &results.Run{ID: s.id, Created: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Accel: s.accel,
		Baseline: s.kernels[0].name, Boots: len(s.kernels[0].rtt), Profile: "quick",
		Host:   results.Host{Hostname: "bench1", CPUModel: s.cpu, CPUs: 2, QEMUVersion: "7.2.19", KvetVersion: s.kvetVersion},
		Matrix: "thresholds:\n  \"tcp/*.p50\": 10%\nkernels:\n  - name: x\n    package: linux-image-cloud-amd64\n"}
	for _, k := range s.kernels {
		run.Kernels = append(run.Kernels, results.Kernel{Name: k.name, Release: "6.12.117+deb12-cloud-amd64", Source: "linux-image-6.12-cloud-amd64"})
	}
	p := filepath.Join(dir, s.id)
	d, err := results.CreateDir(p, run)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.kernels[0].rtt {
		for j, k := range s.kernels {
			b := &results.Boot{Kernel: k.name, Index: i, Seq: i*len(s.kernels) + j, Accel: s.accel, Outcome: results.OK,
				Release: "6.12.117+deb12-cloud-amd64",
				Scenarios: []results.Scenario{{Name: "tcp", Valid: true, Metrics: []results.Metric{
					{Name: "nodelay-off.stalled", Unit: "ratio", Better: results.LowerIsBetter, Value: k.stalled[i], Samples: 40},
					{Name: "rr.p50", Unit: "ns", Better: results.LowerIsBetter, Value: k.rtt[i], Samples: 10000, Quantile: 50, Timing: true},
				}}}}
			if err := d.WriteBoot(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

var (
	steady  = []float64{0.025, 0.05, 0.025, 0.05, 0.025, 0.025, 0.05}
	stalls  = []float64{1, 0.975, 1, 1, 0.95, 1, 0.975}
	rttBase = []float64{25100, 24800, 25300, 24900, 25000, 25200, 24950}
	rttSame = []float64{25050, 25250, 24850, 25150, 24900, 25100, 25000}
)

func TestDiff(t *testing.T) {
	// The runs are named relative to the test's own directory, so that the
	// output (whose notes wrap at the terminal's width) is the same
	// whatever the temporary directory is called.
	dir := t.TempDir()
	t.Chdir(dir)
	rel := func(p string) string { return filepath.Base(p) }
	old := rel(writeRun(t, dir, runSpec{id: "old", cpu: "AMD EPYC 7B13", kvetVersion: "v0.1.0", kernels: []kernelSpec{
		{"stable", steady, rttBase}, {"next", steady, rttSame}}}))
	same := rel(writeRun(t, dir, runSpec{id: "new", cpu: "AMD EPYC 7B13", kvetVersion: "v0.1.0", kernels: []kernelSpec{
		{"stable", steady, rttSame}, {"next", stalls, rttBase}}}))
	otherCPU := rel(writeRun(t, dir, runSpec{id: "elsewhere", cpu: "Intel Xeon 8375C", kvetVersion: "v0.2.0", kernels: []kernelSpec{
		{"stable", steady, rttSame}}}))
	tcg := rel(writeRun(t, dir, runSpec{id: "tcg", cpu: "AMD EPYC 7B13", kvetVersion: "v0.1.0", accel: "tcg", kernels: []kernelSpec{
		{"other", steady, rttSame}}}))

	tests := []struct {
		name       string
		args       []string
		code       int
		golden     string   // testdata/NAME.golden holds stdout
		wantStderr []string // substrings of stderr
	}{
		{name: "kernel by kernel", args: []string{old, same}, code: 1, golden: "diff-pairs"},
		{name: "one kernel", args: []string{old, same, "--kernel", "stable"}, code: 0, golden: "diff-kernel"},
		{name: "one kernel markdown", args: []string{"--format", "markdown", old, same, "--kernel", "next"}, code: 1, golden: "diff-kernel-md"},
		{name: "fail on none", args: []string{old, same, "--fail-on", "none"}, code: 0},
		{name: "across kernels", args: []string{old, same, "--old-kernel", "next", "--new-kernel", "stable"}, code: 0},
		{name: "other host", args: []string{old, otherCPU}, code: 0, golden: "diff-host",
			wantStderr: []string{"timing metrics are not compared", "CPU (AMD EPYC 7B13 vs Intel Xeon 8375C)", "kvet versions differ"}},
		{name: "other host allowed", args: []string{old, otherCPU, "--allow-mixed"}, code: 0,
			wantStderr: []string{"WARNING: TIMINGS COMPARED ACROSS MACHINES"}},
		{name: "other accel", args: []string{old, tcg, "--old-kernel", "stable", "--new-kernel", "other"}, code: 0,
			wantStderr: []string{"accelerator (kvm vs tcg)"}},
		{name: "no common kernel", args: []string{old, tcg}, code: 2, wantStderr: nil},
		{name: "unknown kernel", args: []string{old, same, "--kernel", "nope"}, code: 2},
		{name: "half a pair", args: []string{old, same, "--old-kernel", "stable"}, code: 2},
		{name: "not a run", args: []string{old, "."}, code: 2},
		{name: "one dir", args: []string{old}, code: 2},
		{name: "bad format", args: []string{old, same, "--format", "pdf"}, code: 2},
		{name: "bad fail-on", args: []string{old, same, "--fail-on", "regresion"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"diff"}, tc.args...), &stdout, &stderr)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("kvet diff %s = exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), got, err, tc.code, stdout.String(), stderr.String())
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("kvet diff %s: stderr does not say %q:\n%s", strings.Join(tc.args, " "), s, stderr.String())
				}
			}
			if tc.golden != "" {
				golden(t, tc.golden, stdout.String())
			}
		})
	}
}

// TestDiffFormats: every format parses as what it claims to be, and --out
// writes the file instead of standard output.
func TestDiffFormats(t *testing.T) {
	dir := t.TempDir()
	old := writeRun(t, dir, runSpec{id: "old", cpu: "c", kvetVersion: "v1", kernels: []kernelSpec{{"k", steady, rttBase}}})
	cur := writeRun(t, dir, runSpec{id: "new", cpu: "c", kvetVersion: "v1", kernels: []kernelSpec{{"k", stalls, rttSame}}})
	for _, format := range results.Formats {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report")
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"diff", old, cur, "--format", format, "--out", out}, &stdout, &stderr)
			if exitCode(err) != 1 {
				t.Fatalf("kvet diff --format %s = %v, want exit 1 (stall regression)\n%s", format, err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("kvet diff --out: stdout = %q, want nothing", stdout.String())
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case "json":
				var c results.Comparison
				if err := json.Unmarshal(b, &c); err != nil || c.Schema != results.ComparisonSchema || len(c.Kernels) != 1 || c.Kernels[0].Kernel != "k@new" {
					t.Errorf("json report: %v, schema %q, kernels %+v", err, c.Schema, c.Kernels)
				}
			case "junit":
				var v struct {
					Failures int `xml:"failures,attr"`
				}
				if err := xml.Unmarshal(b, &v); err != nil || v.Failures == 0 {
					t.Errorf("junit report: %v, %d failures, want XML with a failure", err, v.Failures)
				}
			case "html":
				if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("<!DOCTYPE html>")) || !bytes.Contains(b, []byte("k@old")) {
					t.Errorf("html report does not start as HTML or lacks the baseline k@old")
				}
			default:
				if !bytes.Contains(b, []byte("tcp/nodelay-off.stalled")) || !bytes.Contains(b, []byte("regression")) {
					t.Errorf("%s report lacks the stall regression:\n%s", format, b)
				}
			}
		})
	}
}

// golden compares got with testdata/NAME.golden; on a mismatch it writes
// testdata/NAME.got for a diff (-update rewrites the golden file).
// testdata is the package's testdata folder, found before any test
// changes directory.
var testdata, _ = filepath.Abs("testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join(testdata, name+".golden")
	if *update {
		if err := os.MkdirAll(testdata, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		os.WriteFile(filepath.Join(testdata, name+".got"), []byte(got), 0o644)
		t.Errorf("output differs from %s; see %s.got:\n%s", p, filepath.Join(testdata, name), got)
	}
}

// TestShowVerdicts: kvet show opens with the answer (its first screen says
// what changed) and the verdict table, judged with the thresholds of the
// run's own matrix, and ends with the per-kernel summary.
func TestShowVerdicts(t *testing.T) {
	dir := t.TempDir()
	p := writeRun(t, dir, runSpec{id: "r", cpu: "c", kvetVersion: "v1", kernels: []kernelSpec{
		{"stable", steady, rttBase}, {"next", stalls, rttSame}}})
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"show", p}, &stdout, &stderr); err != nil {
		t.Fatalf("kvet show = %v\n%s", err, stderr.String())
	}
	golden(t, "show-verdicts", stdout.String())
	// The matrix's "tcp/*.p50": 10% threshold is the one used.
	lines := strings.Split(stdout.String(), "\n")
	if !strings.Contains(strings.Join(lines[:min(len(lines), 40)], "\n"), "next vs stable: REGRESSION") {
		t.Errorf("kvet show's first screen does not answer:\n%s", stdout.String())
	}
	var js bytes.Buffer
	if err := run(context.Background(), []string{"diff", p, p, "--format", "json"}, &js, &stderr); err != nil {
		t.Fatal(err)
	}
	var c results.Comparison
	if err := json.Unmarshal(js.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.Kernels {
		for _, m := range k.Metrics {
			if m.Key == "tcp/rr.p50" && m.Threshold != 0.10 {
				t.Errorf("threshold of %s = %g, want 0.10 from the run's matrix", m.Key, m.Threshold)
			}
		}
	}
}
