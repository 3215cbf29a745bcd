package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/kernels/apt/apttest"
	"github.com/kvet/kvet/results"
)

// TestFaultExitCodes runs kvet against each kind of fault and checks the
// exit code the README documents and a message that names what is at fault.
func TestFaultExitCodes(t *testing.T) {
	deb := []byte("!<arch>\nnot really a kernel, but the archive vouches for it")
	pkgs := []apttest.Pkg{{Name: "linux-image-6.12.9+deb12-cloud-amd64", Version: "6.12.9-1", Deb: deb}}
	fetch := func(a *apttest.Archive, cache string) []string {
		return []string{"kernels", "fetch", "--deb-only", "--mirror", a.URL, "--suite", "stable", "--keyring", a.KeyringPath, "--cache", cache, "linux-image-6.12.9+deb12-cloud-amd64"}
	}
	dir := t.TempDir()
	boots0 := filepath.Join(dir, "boots0.yaml")
	os.WriteFile(boots0, []byte("boots: 0\nkernels:\n  - name: a\n    deb: a.deb\n"), 0o644)

	// A run directory with a corrupt boot file.
	runDir := filepath.Join(dir, "run")
	if _, err := results.CreateDir(runDir, &results.Run{ID: "r", Matrix: "kernels: [{name: a, deb: a.deb}]\n", Kernels: []results.Kernel{{Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(runDir, results.BootFile("a", 0)), []byte(`{"schema": 1, "kernel": "a", "outc`), 0o644)

	tests := []struct {
		name  string
		args  func(t *testing.T) []string
		code  int
		wants []string
	}{
		{"tampered InRelease", func(t *testing.T) []string {
			a := apttest.New(t)
			a.Publish(t, "stable", pkgs)
			in := a.Get("dists/stable/InRelease")
			a.Set("dists/stable/InRelease", []byte(strings.Replace(string(in), "Suite: stable", "Suite: stablf", 1)))
			return fetch(a, t.TempDir())
		}, exitInfra, []string{"/dists/stable/InRelease", "refused"}},
		{"tampered Packages.gz", func(t *testing.T) []string {
			a := apttest.New(t)
			a.Publish(t, "stable", pkgs)
			for _, name := range []string{"Packages.gz", "Packages.xz", "Packages"} {
				p := "dists/stable/main/binary-amd64/" + name
				if b := a.Get(p); b != nil {
					a.Set(p, append(b[:len(b)-1:len(b)-1], b[len(b)-1]^1))
				}
			}
			return fetch(a, t.TempDir())
		}, exitInfra, []string{"binary-amd64/Packages", "sha256 mismatch", "refused"}},
		{"truncated .deb", func(t *testing.T) []string {
			a := apttest.New(t)
			a.Publish(t, "stable", pkgs)
			a.Truncate("pool/main/l/linux-image-6.12.9+deb12-cloud-amd64_6.12.9-1_amd64.deb", 100)
			return fetch(a, t.TempDir())
		}, exitInfra, []string{"download failed after 5 attempts", "unexpected EOF"}},
		{"malformed --mirror", func(t *testing.T) []string {
			return []string{"kernels", "fetch", "--mirror", "ht!tp://x y", "--suite", "stable", "--cache", t.TempDir(), "linux-image-x"}
		}, exitBadInput, []string{`"ht!tp://x y" is not a URL`}},
		{"malformed --mirror on run", func(t *testing.T) []string {
			return []string{"run", "--mirror", "deb.debian.org/debian", "--suite", "stable", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}
		}, exitBadInput, []string{`run: --mirror: "deb.debian.org/debian": want an http:// or https:// URL`}},
		{"--parallel -1", func(t *testing.T) []string {
			return []string{"run", "--parallel", "-1", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}
		}, exitBadInput, []string{"--parallel -1"}},
		{"--retries -1", func(t *testing.T) []string {
			return []string{"run", "--retries", "-1", "--kernel", "x.deb", "--out", filepath.Join(dir, "never")}
		}, exitBadInput, []string{"--retries -1"}},
		{"boots: 0", func(t *testing.T) []string { return []string{"run", boots0} }, exitBadInput, []string{boots0 + ":1: boots: 0 is out of range"}},
		{"corrupt boot file, show", func(t *testing.T) []string { return []string{"show", runDir} }, exitBadInput, []string{"a.000.json"}},
		{"corrupt boot file, resume", func(t *testing.T) []string { return []string{"run", "--resume", runDir} }, exitBadInput, []string{"a.000.json"}},
		{"missing kernel, said once", func(t *testing.T) []string {
			return []string{"kernels", "fetch", "--cache", t.TempDir(), filepath.Join(dir, "nope.deb")}
		}, exitBadInput, []string{"kernel nope: deb: open"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args(t)
			start := time.Now()
			code, out, errs := runCLI(t, args...)
			all := out + errs
			if code != tt.code {
				t.Errorf("kvet %v = exit %d, want %d; output:\n%s", args, code, tt.code, all)
			}
			for _, w := range tt.wants {
				if !strings.Contains(all, w) {
					t.Errorf("kvet %v output does not say %q:\n%s", args, w, all)
				}
			}
			if strings.Count(all, "kernel ") > 1 {
				t.Errorf("kvet %v repeats its prefix: %s", args, all)
			}
			t.Logf("%s: exit %d after %v: %s", tt.name, code, time.Since(start).Round(time.Millisecond), lastNonEmpty(all))
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
		t.Errorf("bad input left a run directory behind")
	}
}

func lastNonEmpty(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
