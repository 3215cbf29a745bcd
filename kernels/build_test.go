package kernels

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestReadFragment(t *testing.T) {
	file := writeTemp(t, "rt.config", []byte("# the realtime build\nCONFIG_PREEMPT_RT=y\n# CONFIG_PREEMPT_VOLUNTARY is not set\n\nCONFIG_HZ=1000\nCONFIG_CMDLINE=\"a b\"\n"))
	got, err := readFragment("k", file)
	if err != nil {
		t.Fatal(err)
	}
	want := []fragLine{
		{cfgLine{"CONFIG_PREEMPT_RT", "y"}, file, 2},
		{cfgLine{"CONFIG_PREEMPT_VOLUNTARY", "n"}, file, 3},
		{cfgLine{"CONFIG_HZ", "1000"}, file, 5},
		{cfgLine{"CONFIG_CMDLINE", `"a b"`}, file, 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readFragment(file) = %+v, want %+v", got, want)
	}
	got, err = readFragment("k", "CONFIG_PREEMPT_RT=y")
	if err != nil || len(got) != 1 || got[0].file != "inline" || got[0].val != "y" {
		t.Errorf("readFragment(inline) = %+v, %v", got, err)
	}
	for _, bad := range []string{"CONFIG_PREEMPT_RT", "CONFIG_X=y\nPREEMPT=y", "CONFIG_BAD NAME=y", "# CONFIG_X Y is not set"} {
		_, err := readFragment("k", bad)
		var fe *FragmentError
		if !errors.As(err, &fe) || fe.File != "inline" || fe.Line < 1 || !strings.Contains(err.Error(), "kernel k: config fragment inline:") {
			t.Errorf("readFragment(%q) error = %v, want a FragmentError naming the line", bad, err)
		}
	}
	if _, err := readFragment("k", "no/such/file"); err == nil || !strings.Contains(err.Error(), "no/such/file") {
		t.Errorf("readFragment(missing file) error = %v", err)
	}
}

func TestMergeConfig(t *testing.T) {
	cfg := []byte("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_HZ=250\n# comment\n")
	got := string(mergeConfig(cfg, []cfgLine{{"CONFIG_B", "y"}, {"CONFIG_A", "n"}, {"CONFIG_D", "y"}, {"CONFIG_B", "m"}}))
	want := "CONFIG_C=m\nCONFIG_HZ=250\n# comment\nCONFIG_B=m\n# CONFIG_A is not set\nCONFIG_D=y\n"
	if got != want {
		t.Errorf("mergeConfig() =\n%s\nwant\n%s", got, want)
	}
}

func TestFormatConfigRoundTrip(t *testing.T) {
	in := map[string]string{"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_HZ": "250", "CONFIG_ADDR": "0x1000000", "CONFIG_CMDLINE": `console=ttyS0 "x"`, "CONFIG_NEG": "-1"}
	out, err := ParseConfig(bytes.NewReader(formatConfig(in)))
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("ParseConfig(formatConfig(%v)) = %v, %v", in, out, err)
	}
}

func TestConfigSpecYAML(t *testing.T) {
	var s struct {
		A ConfigSpec `yaml:"a"`
		B ConfigSpec `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: tinyconfig\nb: {from: stable}\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.A != (ConfigSpec{Value: "tinyconfig"}) || s.B != (ConfigSpec{From: "stable"}) {
		t.Errorf("Unmarshal = %+v", s)
	}
	out, err := yaml.Marshal(s)
	if err != nil || string(out) != "a: tinyconfig\nb:\n    from: stable\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
	if err := yaml.Unmarshal([]byte("b: {form: stable}\n"), &s); err == nil {
		t.Errorf("Unmarshal({form: stable}) error = nil, want one")
	}
}

// fakeTree writes a stand-in kernel tree whose Makefile answers the targets
// kvet runs (with O=), so that Build's caching and errors are tested
// without a compiler; the real build is the integration test's.
func fakeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mk := `O ?= .
tinyconfig defconfig:
	printf 'CONFIG_64BIT=y\n# CONFIG_MODULES is not set\nCONFIG_HZ=250\n' > $(O)/.config
olddefconfig:
	grep -v '^CONFIG_UNKNOWN' $(O)/.config > $(O)/.config.new; mv $(O)/.config.new $(O)/.config
bzImage:
	@if grep -q '^CONFIG_BREAK=y' $(O)/.config; then echo 'arch/x86/kernel/head.S:1: error: broken on purpose'; exit 2; fi
	mkdir -p $(O)/arch/x86/boot && cp $(CURDIR)/image $(O)/arch/x86/boot/bzImage
kernelrelease:
	@echo 6.99.0-test
`
	must(t, os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "image"), fakeBzImage("6.99.0-test"), 0o644))
	return dir
}

func fakeBuilder(t *testing.T) *Resolver {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	return &Resolver{CacheDir: t.TempDir(), checkTools: func() error { return nil }}
}

func TestBuildCachesByTreeAndConfig(t *testing.T) {
	r := fakeBuilder(t)
	src := fakeTree(t)
	ctx := context.Background()
	spec := Spec{Name: "src", Source: src, Config: ConfigSpec{Value: "tinyconfig"}, ConfigFragments: []string{"CONFIG_HZ=1000"}}
	k, info, err := r.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cached || k.Release != "6.99.0-test" || k.Config["CONFIG_HZ"] != "1000" || k.Config["CONFIG_VIRTIO_CONSOLE"] != "y" || k.ModulesDir != "" {
		t.Errorf("Build() = %+v (cached %v), want a fresh 6.99.0-test with HZ 1000 and the guest's options", k, info.Cached)
	}
	if !slices.Contains(info.Added, "CONFIG_VIRTIO_CONSOLE") || slices.Contains(info.Added, "CONFIG_64BIT") {
		t.Errorf("Build() added %v, want the guest's options tinyconfig lacks, not CONFIG_64BIT", info.Added)
	}
	if !strings.HasPrefix(info.Tree, "tree ") {
		t.Errorf("Build() tree = %q, want a content hash", info.Tree)
	}
	if b, err := os.ReadFile(info.Log); err != nil || !strings.Contains(string(b), "### make bzImage") {
		t.Errorf("build log %s: %v, want the make steps", info.Log, err)
	}
	again, info2, err := r.Build(ctx, spec)
	if err != nil || !info2.Cached || again.Vmlinuz != k.Vmlinuz {
		t.Errorf("Build() again = cached %v, %v, want the cached %s", info2.Cached, err, k.Vmlinuz)
	}
	// Another config is another kernel; so is another tree.
	spec.ConfigFragments = []string{"CONFIG_HZ=300"}
	other, info3, err := r.Build(ctx, spec)
	if err != nil || info3.Cached || other.Vmlinuz == k.Vmlinuz {
		t.Errorf("Build(HZ 300) = cached %v, %v, %s; want a new build", info3.Cached, err, other.Vmlinuz)
	}
	must(t, os.WriteFile(filepath.Join(src, "README"), []byte("changed"), 0o644))
	spec.ConfigFragments = []string{"CONFIG_HZ=1000"}
	if _, info4, err := r.Build(ctx, spec); err != nil || info4.Cached || info4.Tree == info.Tree {
		t.Errorf("Build(changed tree) = cached %v, tree %q, %v; want a new build", info4.Cached, info4.Tree, err)
	}
}

func TestBuildErrors(t *testing.T) {
	r := fakeBuilder(t)
	src := fakeTree(t)
	ctx := context.Background()
	_, _, err := r.Build(ctx, Spec{Name: "u", Source: src, Config: ConfigSpec{Value: "tinyconfig"}, ConfigFragments: []string{"CONFIG_HZ=1000\nCONFIG_UNKNOWN_X=y"}})
	var fe *FragmentError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "kernel u: config fragment inline:2: CONFIG_UNKNOWN_X=y is not in the final config (no such option") {
		t.Errorf("Build(unknown option) error = %v, want a FragmentError at inline:2", err)
	}
	_, _, err = r.Build(ctx, Spec{Name: "b", Source: src, Config: ConfigSpec{Value: "tinyconfig"}, ConfigFragments: []string{"CONFIG_BREAK=y"}})
	var be *BuildError
	if !errors.As(err, &be) || be.Kernel != "b" || be.Step != "make bzImage" || !strings.Contains(be.Tail, "error: broken on purpose") || !strings.Contains(err.Error(), be.Log) {
		t.Errorf("Build(broken) error = %v, want a BuildError with the log's tail", err)
	}
	if _, _, err := r.Build(ctx, Spec{Name: "c", Source: src, Config: ConfigSpec{Value: "no-such-thing"}}); err == nil || !strings.Contains(err.Error(), "not a make target") {
		t.Errorf("Build(bad config) error = %v", err)
	}
	if _, _, err := r.Build(ctx, Spec{Name: "f", Source: src, Config: ConfigSpec{From: "nobody"}}); err == nil || !strings.Contains(err.Error(), "config from nobody") {
		t.Errorf("Build(config from an unknown kernel) error = %v", err)
	}
	if _, _, err := (&Resolver{CacheDir: t.TempDir(), checkTools: func() error { return ErrBuildTools }}).Build(ctx, Spec{Name: "t", Source: src}); !errors.Is(err, ErrBuildTools) {
		t.Errorf("Build(no tools) error = %v, want ErrBuildTools", err)
	}
}

func TestBuildConfigFrom(t *testing.T) {
	r := fakeBuilder(t)
	r.remember([]*Kernel{{Name: "stable", Config: map[string]string{"CONFIG_64BIT": "y", "CONFIG_HZ": "250", "CONFIG_SYSTEM_TRUSTED_KEYS": "debian/certs/debian-uefi-certs.pem"}}})
	k, _, err := r.Build(context.Background(), Spec{Name: "mine", Source: fakeTree(t), Config: ConfigSpec{From: "stable"}, ConfigFragments: []string{"CONFIG_PREEMPT_RT=y"}})
	if err != nil {
		t.Fatal(err)
	}
	if k.Config["CONFIG_HZ"] != "250" || k.Config["CONFIG_PREEMPT_RT"] != "y" || k.Config["CONFIG_SYSTEM_TRUSTED_KEYS"] != "" {
		t.Errorf("Build(from stable) config = %v, want stable's with PREEMPT_RT and no trusted keys", k.Config)
	}
}

func TestBuildGitTree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := fakeBuilder(t)
	src := fakeTree(t)
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", src, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitc("init", "-q")
	gitc("add", ".")
	gitc("commit", "-q", "-m", "one")
	gitc("tag", "v1")
	ctx := context.Background()
	spec := Spec{Name: "g", Source: src, Config: ConfigSpec{Value: "tinyconfig"}}
	_, clean, err := r.Build(ctx, spec)
	if err != nil || !strings.HasPrefix(clean.Tree, "git ") || strings.Contains(clean.Tree, "dirty") {
		t.Fatalf("Build(clean git tree) = %+v, %v", clean, err)
	}
	must(t, os.WriteFile(filepath.Join(src, "new.c"), []byte("int x;"), 0o644))
	_, dirty, err := r.Build(ctx, spec)
	if err != nil || !strings.Contains(dirty.Tree, "-dirty.") || dirty.Cached {
		t.Errorf("Build(dirty tree) = %+v, %v, want a dirty key and a new build", dirty, err)
	}
	// A ref is exported: the working tree is neither used nor touched.
	spec.Ref = "v1"
	_, ref, err := r.Build(ctx, spec)
	if err != nil || !strings.Contains(ref.Tree, "(v1)") || !ref.Cached {
		t.Errorf("Build(ref v1) = %+v, %v, want v1's commit, cached as the clean tree's build", ref, err)
	}
	if _, err := os.Stat(filepath.Join(src, "new.c")); err != nil {
		t.Errorf("the working tree was touched: %v", err)
	}
}

func FuzzReadFragment(f *testing.F) {
	f.Add("CONFIG_PREEMPT_RT=y\n# CONFIG_X is not set\nCONFIG_S=\"a\"\n")
	f.Add("CONFIG_\n=\n# is not set")
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := readFragment("k", "CONFIG_A=y\n"+s)
		if err != nil {
			return
		}
		for _, l := range lines {
			if !validSymbol(l.key) || l.val == "" {
				t.Errorf("readFragment(%q) gave %+v", s, l)
			}
		}
		// Merging what was read never loses an option.
		got, err := ParseConfig(bytes.NewReader(mergeConfig(nil, func() (c []cfgLine) {
			for _, l := range lines {
				c = append(c, l.cfgLine)
			}
			return c
		}())))
		if err == nil && got["CONFIG_A"] == "" {
			t.Errorf("merged config lost CONFIG_A: %v", got)
		}
	})
}
