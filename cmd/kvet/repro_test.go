package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios"
)

// reproRun writes a run of two kernels where the candidate stalls in
// nagle's Nagle variant and has one sysctl changed.
func reproRun(t *testing.T, dir string) string {
	t.Helper()
	const m = "boots: 4\nkernels:\n  - name: stable\n    package: linux-image-cloud-amd64\n  - name: next\n    package: linux-image-6.12-cloud-amd64\n    sysctl: {net.ipv4.tcp_slow_start_after_idle: 0}\nscenarios:\n  - name: nagle\n    params: {exchanges: 5, variants: [nodelay-off]}\n  - pipe\n"
	run := &results.Run{ID: "r1", Created: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Accel: "kvm", Baseline: "stable", Boots: 4, Profile: "quick", Matrix: m,
		Host: results.Host{Hostname: "bench1", CPUModel: "EPYC", CPUs: 2, Kernel: "6.1.0-40-amd64", QEMUVersion: "7.2.19", KvetVersion: "v1"},
		Kernels: []results.Kernel{{Name: "stable", Package: "linux-image-6.1.0-57-cloud-amd64", Release: "6.1.0-57-cloud-amd64"},
			{Name: "next", Package: "linux-image-6.12.118+deb12-cloud-amd64", Release: "6.12.118+deb12-cloud-amd64", Sysctl: map[string]string{"net.ipv4.tcp_slow_start_after_idle": "0"}}}}
	p := filepath.Join(dir, "run")
	d, err := results.CreateDir(p, run)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := matrix.ScenarioParams("nagle", scenarios.Quick, []string{"exchanges=5", "variants=[nodelay-off]"})
	raw, _ := json.Marshal(params)
	for i := 0; i < 4; i++ {
		for j, k := range []string{"stable", "next"} {
			stalled, ssai := 0.0+0.01*float64(i), "1"
			if k == "next" {
				stalled, ssai = 1-0.01*float64(i), "0"
			}
			b := &results.Boot{Kernel: k, Index: i, Seq: 2*i + j, Accel: "kvm", Outcome: results.OK, Release: run.Kernels[j].Release,
				ConsoleFile: results.ConsoleFile(k, i), Facts: map[string]string{"sysctl.net.ipv4.tcp_slow_start_after_idle": ssai},
				Scenarios: []results.Scenario{{Name: "nagle", Valid: true, Params: raw, Metrics: []results.Metric{
					{Name: "nodelay-off.stalled", Unit: "ratio", Better: results.LowerIsBetter, Value: stalled, Samples: 5, Primary: true}}}}}
			if err := d.WriteBoot(b); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(p, b.ConsoleFile), []byte("console of "+b.Key()+"\n"), 0o644)
		}
	}
	// A traced boot of each kernel: nagle's trace is the finding's, pipe's
	// is not.
	os.MkdirAll(filepath.Join(p, results.TracesDir), 0o755)
	for j, k := range []string{"stable", "next"} {
		b := &results.Boot{Kernel: k, Seq: 8 + j, Traced: true, Accel: "kvm", Outcome: results.OK, ConsoleFile: results.TracedConsoleFile(k, 0)}
		for _, sc := range []string{"nagle", "pipe"} {
			tr := results.TraceFile{Scenario: sc, File: results.TraceFileName(k, 0, sc), Events: 5615, Enabled: []string{"sched_switch", "tcp_probe"}}
			b.Traces = append(b.Traces, tr)
			os.WriteFile(filepath.Join(p, tr.File), []byte("trace of "+sc), 0o644)
		}
		if err := d.WriteBoot(b); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, b.ConsoleFile), []byte("console of the traced boot\n"), 0o644)
	}
	return p
}

// TestRepro: kvet repro writes a directory another person can use: the
// README says what was seen and how to reproduce it, the matrix parses and
// pins the resolved packages, the bare-metal command gives the run's
// parameters back, and the boots and consoles of both kernels are there.
func TestRepro(t *testing.T) {
	dir := t.TempDir()
	run := reproRun(t, dir)
	out := filepath.Join(dir, "repro")
	var stdout, stderr bytes.Buffer
	if err := run_(t, []string{"repro", run, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("kvet repro: %v\n%s", err, stderr.String())
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`nagle/nodelay-off.stalled` on next against stable", "Verdict: **regression**", "kvet run matrix.yaml",
		"sysctl `net.ipv4.tcp_slow_start_after_idle`: unset -> 0", "kvet scenario nagle --profile quick", "console/KERNEL.NNN.log"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md lacks %q:\n%s", want, readme)
		}
	}
	m, err := matrix.Load(filepath.Join(out, "matrix.yaml"))
	if err != nil {
		t.Fatalf("the reproducer's matrix: %v", err)
	}
	if len(m.Kernels) != 2 || m.Kernels[0].Package != "linux-image-6.1.0-57-cloud-amd64" || m.Kernels[1].Package != "linux-image-6.12.118+deb12-cloud-amd64" ||
		m.Kernels[1].Sysctl["net.ipv4.tcp_slow_start_after_idle"] != "0" || len(m.Scenarios) != 1 || m.Scenarios[0].Name != "nagle" ||
		m.Scenarios[0].Params.(*scenarios.NagleParams).Exchanges != 5 {
		t.Errorf("matrix.yaml = kernels %+v, scenarios %+v", m.Kernels, m.Scenarios)
	}
	// The bare-metal command's parameters are the run's.
	line := ""
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "kvet scenario ") {
			line = l
		}
	}
	var pairs []string
	for _, f := range strings.Split(line, " --param ")[1:] {
		pairs = append(pairs, strings.Trim(f, "'"))
	}
	got, err := matrix.ScenarioParams("nagle", scenarios.Quick, pairs)
	want, _ := matrix.ScenarioParams("nagle", scenarios.Quick, []string{"exchanges=5", "variants=[nodelay-off]"})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("bare-metal command %q gives %+v, %v; want %+v", line, got, err, want)
	}
	for _, f := range []string{"boots/next.003.json", "boots/stable.000.json", "console/next.000.log", "traces/next.000.nagle.trace.gz", "traces/stable.000.nagle.trace.gz", "traces/next.000.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "traces/next.000.pipe.trace.gz")); err == nil {
		t.Errorf("the trace of another scenario was copied")
	}
	if !strings.Contains(string(readme), "`traces/next.000.nagle.trace.gz`: next, nagle, 5615 events") || !strings.Contains(string(readme), "ui.perfetto.dev") {
		t.Errorf("README.md does not list the traces:\n%s", readme)
	}
	if m.Trace != matrix.TraceOnChange {
		t.Errorf("matrix.yaml trace: %q, want on-change", m.Trace)
	}
	// A second repro into the same directory, a kernel or metric that is
	// not there: bad input, naming it.
	for _, args := range [][]string{{"repro", run, "--out", out}, {"repro", run, "--kernel", "nope"}, {"repro", run, "--metric", "nagle/x"}} {
		if err := run_(t, args, &stdout, &stderr); exitCode(err) != exitBadInput {
			t.Errorf("kvet %s = %v, want bad input", strings.Join(args, " "), err)
		}
	}
}

func run_(t *testing.T, args []string, stdout, stderr *bytes.Buffer) error {
	t.Helper()
	return run(context.Background(), args, stdout, stderr)
}
