package matrix

import (
	"strings"
	"testing"
)

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top field", "kernels:\n  - name: a\n    package: p\nbots: 3\n", "m.yaml:4: field bots not found"},
		{"unknown kernel field", "kernels:\n  - name: a\n    pakage: p\n", "m.yaml:3: field pakage not found"},
		{"wrong type", "cpus: many\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: cannot unmarshal"},
		{"boots not a number", "boots: many\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: boots: \"many\": want auto or a number"},
		{"no source", "kernels:\n  - name: a\n", "m.yaml:2: kernel 1: a: no source"},
		{"two sources", "kernels:\n  - name: a\n    package: p\n    deb: x.deb\n", "m.yaml:2: kernel 1: a: several sources (package, deb)"},
		{"url without sha", "kernels:\n  - name: a\n    deb: https://example.org/k.deb\n", "needs sha256"},
		{"duplicate name", "kernels:\n  - name: a\n    package: p\n  - name: a\n    package: q\n", "m.yaml:4: kernel \"a\" is listed twice"},
		{"bad baseline", "baseline: z\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: baseline \"z\" is not one of the kernels"},
		{"bad trace", "kernels:\n  - name: a\n    package: p\ntrace: sometimes\n", "m.yaml:4: trace: \"sometimes\" (want off, always or on-change)"},
		{"bad profile", "profile: slow\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: profile: \"slow\""},
		{"bad duration", "timeout: soon\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: bad duration \"soon\""},
		{"bad threshold", "thresholds: {\"timer/*\": lots}\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: bad threshold"},
		{"unknown scenario", "kernels:\n  - name: a\n    package: p\nscenarios:\n  - nosuch\n", "m.yaml:5: unknown scenario \"nosuch\""},
		{"unknown param", "kernels:\n  - name: a\n    package: p\nscenarios:\n  - name: timer\n    params:\n      durashun: 1s\n", "m.yaml:7: scenario timer: unknown parameter \"durashun\""},
		{"bad sysctl", "kernels:\n  - name: a\n    package: p\n    sysctl: {\"rm -rf\": 1}\n", "is not a sysctl name"},
		{"syntax", "kernels: [\n", "m.yaml:"},
		{"empty", "", "m.yaml: empty matrix file"},
		{"suite on a deb", "kernels:\n  - name: a\n    deb: a.deb\n    suite: trixie\n", "m.yaml:2: kernel 1: a: mirror, suite and keyring go with package or series"},
		{"ref without source", "kernels:\n  - name: a\n    package: p\n    ref: v6.18\n", "m.yaml:2: kernel 1: a: ref and config_fragments go with source"},
		{"config from a later kernel", "kernels:\n  - name: a\n    source: /src\n    config: {from: b}\n  - name: b\n    package: p\n", "m.yaml:2: kernel a: config from \"b\": no kernel of that name is listed before it"},
		{"config with a package", "kernels:\n  - name: a\n    package: p\n    config: tinyconfig\n", "config goes with vmlinuz or source"},
		{"bad config mapping", "kernels:\n  - name: a\n    source: /src\n    config: {form: b}\n", "config: want a file, a make target or {from: KERNEL}"},
		{"qemu_nice out of range", "kernels:\n  - name: a\n    package: p\nqemu_nice: -21\n", "m.yaml:4: qemu_nice: -21 is out of range -20..19"},
		{"bad fail_on", "fail_on: [oops]\nkernels:\n  - name: a\n    package: p\n", "m.yaml:1: fail_on: unknown verdict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want error containing %q", tt.yaml, err, tt.want)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	m, err := Parse("m.yaml", []byte("kernels:\n  - name: a\n    deb: a.deb\n  - name: b\n    deb: b.deb\n    sysctl: {net.ipv4.tcp_slow_start_after_idle: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Baseline != "a" || m.Boots != Auto || m.Round != DefaultRound || m.MaxBoots != DefaultMaxBoots || m.Budget != DefaultBudget || m.Profile != "quick" || m.Accel != "auto" || m.CPUs != DefaultCPUs {
		t.Errorf("defaults = baseline %q boots %d profile %q accel %q cpus %d", m.Baseline, m.Boots, m.Profile, m.Accel, m.CPUs)
	}
	if got := m.Kernels[1].Sysctl["net.ipv4.tcp_slow_start_after_idle"]; got != "0" {
		t.Errorf("sysctl = %q, want 0", got)
	}
	if len(m.Scenarios) == 0 {
		t.Errorf("no scenarios by default, want the whole suite")
	}
	if len(m.FailOn) != 1 || m.FailOn[0] != "regression" {
		t.Errorf("FailOn = %v, want [regression]", m.FailOn)
	}
}

func TestKernelArchive(t *testing.T) {
	m, err := Parse("m.yaml", []byte("suite: bookworm\nkernels:\n  - name: a\n    package: p\n  - name: b\n    package: p\n    suite: trixie-backports\n    mirror: http://example.org/debian\n    keyring: k.gpg\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Kernels[0].Archive; a.Suite != "" || a.Mirror != "" {
		t.Errorf("kernel a archive = %+v, want none of its own", a)
	}
	b := m.Kernels[1].Archive
	if b.Suite != "trixie-backports" || b.Mirror != "http://example.org/debian" || b.Keyring != "k.gpg" {
		t.Errorf("kernel b archive = %+v, want its suite, mirror and keyring", b)
	}
	if got := m.Archive.Over(b); got.Suite != "trixie-backports" {
		t.Errorf("Over() = %+v, want the kernel's suite", got)
	}
}

func TestSourceKernel(t *testing.T) {
	m, err := Parse("m.yaml", []byte("kernels:\n  - name: stable\n    package: p\n  - name: mine\n    source: ~/src/linux\n    ref: v6.18\n    config: {from: stable}\n    config_fragments: [CONFIG_PREEMPT_RT=y, rt.config]\n"))
	if err != nil {
		t.Fatal(err)
	}
	k := m.Kernels[1]
	if k.Source != "~/src/linux" || k.Ref != "v6.18" || k.Config.From != "stable" || len(k.ConfigFragments) != 2 {
		t.Errorf("source kernel = %+v", k)
	}
}

func TestDefaultMatrix(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Kernels) != 3 || m.Baseline != "stable" {
		t.Errorf("Default() = %d kernels, baseline %q; want 3, stable", len(m.Kernels), m.Baseline)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("kernels:\n  - name: a\n    package: p\n"))
	f.Add(defaultYAML)
	f.Add([]byte("scenarios:\n  - name: timer\n    params: {duration: 1s}\nkernels: [{name: a, deb: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("f.yaml", data)
		if err == nil && (len(m.Kernels) == 0 || m.FirstRound() < 1 || m.Adaptive() && m.MaxBoots < m.Round) {
			t.Errorf("Parse accepted a matrix without kernels or boots")
		}
	})
}
