package matrix

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestKernelNameFromFile(t *testing.T) {
	tests := map[string]string{
		"/x/linux-image-6.12.117+deb12-cloud-amd64_6.12.117-1~deb12u1_amd64.deb": "6.12.117+deb12-cloud-amd64",
		"linux-image-6.1.0-54-cloud-amd64_6.1.190-1_amd64.deb":                   "6.1.0-54-cloud-amd64",
		"/boot/vmlinuz-6.18.0": "vmlinuz-6.18.0",
		"./bzImage":            "bzImage",
	}
	for in, want := range tests {
		if got := KernelNameFromFile(in); got != want {
			t.Errorf("KernelNameFromFile(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestApplyChecksLikeAFile: an override goes through the matrix's own
// checks, and a new profile takes its scenarios' parameters with it.
func TestApplyChecksLikeAFile(t *testing.T) {
	m, err := Parse("m.yaml", []byte("kernels:\n  - name: a\n    package: p\nscenarios:\n  - timer\n  - name: pipe\n    params: {other_cpu: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	quick, _ := m.Scenarios[1].ParamsFor("quick")
	if err := m.Apply(Override{Boots: 7, Profile: "full", Timeout: time.Minute, Scenarios: []string{"pipe", "hackbench"}}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if m.Boots != 7 || m.Profile != "full" || m.Timeout != Duration(time.Minute) || m.File != "m.yaml" {
		t.Errorf("Apply: boots %d, profile %s, timeout %v, file %s", m.Boots, m.Profile, m.Timeout, m.File)
	}
	if len(m.Scenarios) != 2 || m.Scenarios[0].Name != "pipe" || m.Scenarios[1].Name != "hackbench" || m.Scenarios[1].Params == nil {
		t.Fatalf("Apply kept scenarios %+v, want pipe and hackbench with parameters", m.Scenarios)
	}
	full, _ := m.Scenarios[0].ParamsFor("full")
	if got := m.Scenarios[0].Params; !equalJSON(t, got, full) || equalJSON(t, got, quick) {
		t.Errorf("Apply(profile full): pipe's parameters = %+v, want the full profile's with the file's override", got)
	}
	for _, o := range []Override{{Boots: 5000}, {Accel: "xen"}, {Profile: "slow"}, {Scenarios: []string{"nosuch"}}, {CPUs: 100}} {
		m, _ := Parse("m.yaml", []byte("kernels:\n  - name: a\n    package: p\n"))
		err := m.Apply(o)
		if e, ok := err.(*Error); !ok || e.File != OverrideFile {
			t.Errorf("Apply(%+v) = %v, want an *Error naming %s", o, err, OverrideFile)
		}
	}
}

func TestFromKernelFiles(t *testing.T) {
	m, err := FromKernelFiles([]string{"/a/linux-image-6.1_6.1-1_amd64.deb", "/b/bzImage", "/c/bzImage"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range m.Kernels {
		got = append(got, k.Name+"="+k.Deb+k.Vmlinuz)
	}
	want := "6.1=/a/linux-image-6.1_6.1-1_amd64.deb bzImage=/b/bzImage bzImage-2=/c/bzImage"
	if strings.Join(got, " ") != want || m.Baseline != "6.1" || m.Boots != Auto || len(m.Scenarios) == 0 {
		t.Errorf("FromKernelFiles = %s (baseline %s, boots %d), want %s, baseline 6.1, defaults", strings.Join(got, " "), m.Baseline, m.Boots, want)
	}
	if _, err := FromKernelFiles(nil); err == nil {
		t.Errorf("FromKernelFiles(nil) = nil error, want no kernels")
	}
}

func TestVerdictsNone(t *testing.T) {
	for text, want := range map[string]int{"": 1, "fail_on: [none]\n": 0, "fail_on: [regression, improvement]\n": 2} {
		m, err := Parse("m.yaml", []byte("kernels:\n  - name: a\n    package: p\n"+text))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", text, err)
		}
		if vs, err := m.Verdicts(); err != nil || len(vs) != want {
			t.Errorf("%q: Verdicts() = %v, %v; want %d verdicts", text, vs, err, want)
		}
	}
	if _, err := Parse("m.yaml", []byte("kernels:\n  - name: a\n    package: p\nfail_on: [regresion]\n")); err == nil || !strings.Contains(err.Error(), "m.yaml:4") {
		t.Errorf("fail_on typo: %v, want an error at m.yaml:4", err)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

// TestOverrideCheck: flags are held to the ranges of the matrix file, zero
// keeping the matrix's value.
func TestOverrideCheck(t *testing.T) {
	for _, o := range []Override{{Boots: -2}, {Boots: MaxBoots + 1}, {MaxBoots: -1}, {Budget: -time.Second}, {Boots: 3, MaxBoots: 5}, {CPUs: -1}, {Memory: 64}, {Timeout: -time.Second}, {Mirror: "ftp://x"}} {
		m, _ := Default()
		if err := m.Apply(o); err == nil {
			t.Errorf("Apply(%+v) = nil, want an out-of-range error", o)
		}
	}
	if err := (Override{}).Check(); err != nil {
		t.Errorf("Override{}.Check() = %v, want nil (keep the matrix's values)", err)
	}
}
