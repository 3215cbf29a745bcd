package kernels

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// modulesTree writes a modules tree: each file name maps to its .modinfo
// strings (nil: modules.builtin and the like get their body from builtin).
func modulesTree(t *testing.T, mods map[string][]string, builtin string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lib/modules", testRelease)
	for rel, info := range mods {
		p := filepath.Join(dir, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, compress(t, rel, fakeModule(t, info...)), 0o644))
	}
	must(t, os.MkdirAll(dir, 0o755))
	if builtin != "" {
		must(t, os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(builtin), 0o644))
	}
	return dir
}

func TestModules(t *testing.T) {
	dir := modulesTree(t, map[string][]string{
		"kernel/a/mod-a.ko.xz":  {"license=GPL", "depends=mod_b,mod-c", "alias=foo"},
		"kernel/b/mod_b.ko.zst": {"depends=mod_d"},
		"kernel/c/mod_c.ko.gz":  {"depends=mod_d,mod_e"},
		"kernel/d/mod_d.ko":     {"depends="},
		"kernel/f/mod_f.ko":     {"depends=missing"},
		"kernel/g/mod_g.ko":     {"depends=mod_h"},
		"kernel/h/mod_h.ko":     {"depends=mod_g"},
		"kernel/i/virtio.ko":    {"vermagic=6.12"},
	}, "kernel/e/mod_e.ko\nkernel/drivers/char/virtio_console.ko\n")
	mod := func(name, rel string, deps ...string) Module {
		return Module{Name: name, RelPath: rel, Path: filepath.Join(dir, rel), Deps: deps}
	}
	a := mod("mod_a", "kernel/a/mod-a.ko.xz", "mod_b", "mod_c")
	b := mod("mod_b", "kernel/b/mod_b.ko.zst", "mod_d")
	c := mod("mod_c", "kernel/c/mod_c.ko.gz", "mod_d", "mod_e")
	d := mod("mod_d", "kernel/d/mod_d.ko")
	virtio := mod("virtio", "kernel/i/virtio.ko")
	tests := []struct {
		names   []string
		mods    []Module
		builtin []string
		wantErr string
	}{
		{nil, nil, nil, ""},
		{[]string{"mod_d"}, []Module{d}, nil, ""},
		{[]string{"mod-a"}, []Module{d, b, c, a}, []string{"mod_e"}, ""},
		{[]string{"mod_c", "mod_a"}, []Module{d, c, b, a}, []string{"mod_e"}, ""},
		{[]string{"virtio_console", "virtio", "mod_d", "mod_d"}, []Module{virtio, d}, []string{"virtio_console"}, ""},
		{[]string{"nope"}, nil, nil, "module nope in " + testRelease + ": no such module"},
		{[]string{"mod_f"}, nil, nil, "module missing (needed by mod_f) in " + testRelease},
		{[]string{"mod_g"}, nil, nil, "dependency cycle mod_g -> mod_h -> mod_g"},
	}
	k := &Kernel{Release: testRelease, ModulesDir: dir}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			mods, builtin, err := k.modules(tt.names...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Modules(%q) error = %v, want one containing %q", tt.names, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Modules(%q) error = %v", tt.names, err)
			}
			if !reflect.DeepEqual(mods, tt.mods) || !slices.Equal(builtin, tt.builtin) {
				t.Errorf("Modules(%q) = %+v, %q\nwant %+v, %q", tt.names, mods, builtin, tt.mods, tt.builtin)
			}
		})
	}
	if _, _, err := k.modules("nope"); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("Modules(nope) error = %v, want ErrUnknownModule", err)
	}
	if _, _, err := (&Kernel{Release: "x"}).modules("mod_a"); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("Modules() without a modules dir: error = %v, want ErrUnknownModule", err)
	}
}

func TestModulesNotAModule(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "junk.ko"), []byte("not elf"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "trunc.ko.xz"), compress(t, ".xz", fakeModule(t, "depends="))[:20], 0o644))
	k := &Kernel{Release: "r", ModulesDir: dir}
	for _, name := range []string{"junk", "trunc"} {
		if _, _, err := k.modules(name); err == nil || !strings.Contains(err.Error(), "module "+name) {
			t.Errorf("Modules(%s) error = %v, want one naming the module", name, err)
		}
	}
}

func TestModulesDep(t *testing.T) {
	mods := []Module{
		{Name: "mod_d", RelPath: "kernel/d/mod_d.ko"},
		{Name: "mod_b", RelPath: "kernel/b/mod_b.ko.zst", Deps: []string{"mod_d"}},
		{Name: "mod_c", RelPath: "kernel/c/mod_c.ko.gz", Deps: []string{"mod_d", "mod_e"}},
		{Name: "mod_a", RelPath: "kernel/a/mod-a.ko.xz", Deps: []string{"mod_b", "mod-c"}},
	}
	want := "kernel/d/mod_d.ko:\n" +
		"kernel/b/mod_b.ko.zst: kernel/d/mod_d.ko\n" +
		"kernel/c/mod_c.ko.gz: kernel/d/mod_d.ko\n" +
		"kernel/a/mod-a.ko.xz: kernel/b/mod_b.ko.zst kernel/c/mod_c.ko.gz\n"
	if got := string(ModulesDep(mods)); got != want {
		t.Errorf("ModulesDep() = %q, want %q", got, want)
	}
	if got := ModulesDep(nil); len(got) != 0 {
		t.Errorf("ModulesDep(nil) = %q, want empty", got)
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"virtio_console":                         "virtio_console",
		"pvpanic-mmio":                           "pvpanic_mmio",
		"kernel/drivers/misc/pvpanic-mmio.ko.xz": "pvpanic_mmio",
		"a.ko.zst":                               "a",
		"a.ko.gz":                                "a",
		"a.ko":                                   "a",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseModinfo(t *testing.T) {
	got := parseModinfo([]byte("license=GPL\x00alias=a\x00alias=b\x00depends=x-y,,z,x_y\x00\x00junk\x00=v\x00"))
	want := map[string][]string{"license": {"GPL"}, "alias": {"a", "b"}, "depends": {"x_y", "z"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseModinfo() = %q, want %q", got, want)
	}
}

func FuzzModinfo(f *testing.F) {
	f.Add(fakeModule(f, "depends=a,b-c", "license=GPL"))
	f.Add(fakeModule(f))
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, obj []byte) {
		info, err := modinfoSection(obj)
		if err != nil {
			info = obj // the parser must survive anything
		}
		for _, d := range parseModinfo(info)["depends"] {
			if d == "" || strings.Contains(d, "-") || bytes.ContainsRune([]byte(d), ',') {
				t.Errorf("parseModinfo() dependency %q", d)
			}
		}
	})
}
