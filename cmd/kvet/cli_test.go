package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return exitCode(err), out.String(), errb.String() + errString(err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("kernels:\n  - name: a\n    pakage: p\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitBadInput, "no command"},
		{"unknown command", []string{"frobnicate"}, exitBadInput, "unknown command"},
		{"help", []string{"--help"}, exitOK, "Commands:"},
		{"version", []string{"version"}, exitOK, "kvet "},
		{"matrix typo names file and line", []string{"run", typo}, exitBadInput, typo + ":3: field pakage not found"},
		{"missing matrix", []string{"run", filepath.Join(dir, "nope.yaml")}, exitBadInput, "nope.yaml"},
		{"bad shard", []string{"run", "--shard", "4/3", "--kernel", "x.deb"}, exitBadInput, "shard"},
		{"bad flag", []string{"run", "--bogus"}, exitBadInput, "bogus"},
		{"bad events", []string{"run", "--events", "xml", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, "--events"},
		{"fail-on typo", []string{"run", "--fail-on", "regresion", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, `unknown verdict "regresion"`},
		{"fail-on empty item", []string{"run", "--fail-on", "regression,", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, "unknown verdict"},
		{"fail-on spaces", []string{"run", "--fail-on", "regression, bogus", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, `unknown verdict "bogus"`},
		{"trace buffer without trace", []string{"run", "--trace=off", "--trace-buffer-kb", "4096", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, "not with --trace=off"},
		{"bad trace mode", []string{"run", "--trace=sometimes", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, "want off, always or on-change"},
		{"trace buffer out of range", []string{"run", "--trace", "--trace-buffer-kb", "1", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}, exitBadInput, "out of range"},
		{"diff fail-on typo", []string{"diff", "--fail-on", "regresion", dir, dir}, exitBadInput, `unknown verdict "regresion"`},
		{"show non-run", []string{"show", dir}, exitBadInput, "not a kvet run directory"},
		{"merge without out", []string{"merge", dir}, exitBadInput, "-out"},
		{"k8s-job without image", []string{"k8s-job"}, exitBadInput, "--image"},
		{"unknown scenario", []string{"scenarios", "nosuch"}, exitBadInput, "unknown scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("kvet %v = exit %d, output %q; want exit %d containing %q", tt.args, code, out+errs, tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
		t.Errorf("bad input left a run directory behind")
	}
}

func TestInitWritesAValidMatrix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kvet.yaml")
	if code, _, errs := runCLI(t, "init", path); code != 0 {
		t.Fatalf("kvet init = exit %d: %s", code, errs)
	}
	m, err := matrix.Load(path)
	if err != nil {
		t.Fatalf("the example matrix does not parse: %v", err)
	}
	if len(m.Kernels) < 2 || m.Baseline != "stable" {
		t.Errorf("example matrix: %d kernels, baseline %q", len(m.Kernels), m.Baseline)
	}
	if code, _, errs := runCLI(t, "init", path); code != exitBadInput || !strings.Contains(errs, "exists") {
		t.Errorf("kvet init over an existing file = exit %d (%s), want 2", code, errs)
	}
}

func TestScenariosListsEverySuiteMember(t *testing.T) {
	code, out, errs := runCLI(t, "scenarios")
	if code != 0 {
		t.Fatalf("kvet scenarios = exit %d: %s", code, errs)
	}
	for _, name := range []string{"timer", "wakeup", "pipe", "hackbench", "rt-hog", "fairness", "tcp-rr", "nagle", "idle-restart", "tcp-crr", "small-msgs", "exec"} {
		if _, err := scenarios.Lookup(name); err != nil {
			t.Errorf("scenario %s is not registered", name)
		}
		if !strings.Contains(out, name+"\n  measures: ") {
			t.Errorf("kvet scenarios does not describe %s", name)
		}
	}
	if !strings.Contains(out, "catches:") || !strings.Contains(out, "parameters (quick / full):") {
		t.Errorf("kvet scenarios lacks catches or parameters:\n%s", out)
	}
}

// TestMergeWarnsOfMissingBoots: a merge of some of the shards says how many
// boots are missing and how to run them.
func TestMergeWarnsOfMissingBoots(t *testing.T) {
	run := results.Run{ID: "r", Seed: 1, Kernels: []results.Kernel{{Name: "a"}},
		Plan: []results.PlanEntry{{Seq: 0, Kernel: "a", Index: 0}, {Seq: 1, Kernel: "a", Index: 1}}, Shard: "1/2"}
	shard := t.TempDir()
	d, err := results.CreateDir(shard, &run)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteBoot(&results.Boot{Kernel: "a", Index: 0, Outcome: results.OK}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	code, _, errs := runCLI(t, "merge", "-out", out, shard)
	if code != 0 || !strings.Contains(errs, "1 of the plan's 2 boots are in no shard") || !strings.Contains(errs, "--resume "+out) {
		t.Errorf("kvet merge of half the shards = exit %d, stderr %q; want 0 and a warning naming the missing boot", code, errs)
	}
}
