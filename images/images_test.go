package images

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
	"github.com/ulikunitz/xz"

	"github.com/kvet/kvet/internal/elftest"
	"github.com/kvet/kvet/kernels"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// elfFile builds an ELF64 executable header without program headers or
// sections: static as far as CheckStatic can tell.
func elfFile(t testing.TB, typ elf.Type) []byte {
	t.Helper()
	hdr := elf.Header64{Type: uint16(typ), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	must(t, binary.Write(&b, binary.LittleEndian, hdr))
	b.WriteString("padding that stands in for code")
	return b.Bytes()
}

// fakeModule builds a relocatable ELF64 object whose .modinfo section holds
// the given key=value strings, as modpost writes them.
func fakeModule(t testing.TB, modinfo ...string) []byte {
	t.Helper()
	return elftest.Module(modinfo...)
}

const release = "6.1.0-99-test"

type fixture struct {
	init   string
	kernel *kernels.Kernel
	extra  string // an extra file, mode 0750
}

// newFixture writes an init binary and a modules tree: virtio_pci (needing
// virtio_pci_modern_dev), virtio_console, pvpanic_mmio (needing pvpanic) as
// modules, tcp_bbr built in, sch_netem and veth absent.
func newFixture(t testing.TB, without ...string) fixture {
	t.Helper()
	dir := t.TempDir()
	fx := fixture{init: filepath.Join(dir, "kvet"), extra: filepath.Join(dir, "prog")}
	must(t, os.WriteFile(fx.init, elfFile(t, elf.ET_EXEC), 0o755))
	must(t, os.WriteFile(fx.extra, []byte("#!/bin/sh\necho hi\n"), 0o750))
	must(t, os.Chmod(fx.extra, 0o750))
	mdir := filepath.Join(dir, "lib", "modules", release)
	mods := map[string][]string{
		"kernel/drivers/virtio/virtio_pci.ko":            {"depends=virtio_pci_modern_dev", "license=GPL"},
		"kernel/drivers/virtio/virtio_pci_modern_dev.ko": {"depends="},
		"kernel/drivers/char/virtio_console.ko":          {"depends="},
		"kernel/drivers/misc/pvpanic/pvpanic-mmio.ko":    {"depends=pvpanic"},
		"kernel/drivers/misc/pvpanic/pvpanic.ko":         {"depends="},
	}
	for rel, info := range mods {
		if slices.Contains(without, kernels.ModuleName(rel)) {
			continue
		}
		p := filepath.Join(mdir, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, fakeModule(t, info...), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(mdir, "modules.builtin"), []byte("kernel/net/ipv4/tcp_bbr.ko\n"), 0o644))
	fx.kernel = &kernels.Kernel{Name: "test", Release: release, Vmlinuz: "/nonexistent", ModulesDir: mdir, SHA256: strings.Repeat("ab", 32)}
	return fx
}

func (fx fixture) spec() Spec {
	return Spec{Init: fx.init, Kernel: fx.kernel, Modules: DefaultModules, Extra: []File{{Src: fx.extra, Dst: "/usr/local/bin/prog"}}}
}

type rec struct {
	name string
	mode uint64
	data string
}

func readImage(t testing.TB, path string) []rec {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	rr, err := cpio.Newc.NewFileReader(f)
	must(t, err)
	var out []rec
	must(t, cpio.ForEachRecord(rr, func(r cpio.Record) error {
		var data []byte
		if r.ReaderAt != nil && r.FileSize > 0 {
			data, err = io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			if err != nil {
				return err
			}
		}
		if r.Mode&cpio.S_IFMT == cpio.S_IFCHR {
			data = []byte{byte(r.Rmajor), byte(r.Rminor)}
		}
		if r.MTime != 0 || r.UID != 0 {
			t.Errorf("record %s: mtime %d uid %d, want 0 0", r.Name, r.MTime, r.UID)
		}
		out = append(out, rec{r.Name, r.Mode, string(data)})
		return nil
	}))
	return out
}

func TestBuildContents(t *testing.T) {
	fx := newFixture(t)
	b := &Builder{CacheDir: t.TempDir()}
	img, err := b.Build(context.Background(), fx.spec())
	must(t, err)
	if want := []string{"virtio_pci_modern_dev", "virtio_pci", "virtio_console", "pvpanic", "pvpanic_mmio"}; !slices.Equal(img.Load, want) {
		t.Errorf("Build().Load = %q, want %q", img.Load, want)
	}
	var skipped []string
	for _, s := range img.Skipped {
		name, _, _ := strings.Cut(s, ": ")
		skipped = append(skipped, name)
	}
	if want := []string{"virtio_blk", "sch_netem", "veth", "lzo_rle", "lz4", "zram"}; !slices.Equal(skipped, want) {
		t.Errorf("Build().Skipped = %q, want the optional modules the fixture lacks, %q", img.Skipped, want)
	}
	if img.Cached || !strings.HasSuffix(img.Path, img.Hash+".cpio") {
		t.Errorf("Build() = cached %v, path %s, hash %s; want a fresh image named by its hash", img.Cached, img.Path, img.Hash)
	}
	init, _ := os.ReadFile(fx.init)
	mdir := "lib/modules/" + release + "/"
	d := uint64(cpio.S_IFDIR)
	f := uint64(cpio.S_IFREG)
	want := []rec{
		{"dev", d | 0o755, ""},
		{"dev/console", cpio.S_IFCHR | 0o600, "\x05\x01"},
		{"etc", d | 0o755, ""},
		{"etc/kvet", d | 0o755, ""},
		{"etc/kvet/modules", f | 0o644, "virtio_pci_modern_dev\nvirtio_pci\nvirtio_console\npvpanic\npvpanic_mmio\n"},
		{"init", f | 0o755, string(init)},
		{"lib", d | 0o755, ""},
		{"lib/modules", d | 0o755, ""},
		{"lib/modules/" + release, d | 0o755, ""},
		{mdir + "kernel", d | 0o755, ""},
		{mdir + "kernel/drivers", d | 0o755, ""},
		{mdir + "kernel/drivers/char", d | 0o755, ""},
		{mdir + "kernel/drivers/char/virtio_console.ko", f | 0o644, ""},
		{mdir + "kernel/drivers/misc", d | 0o755, ""},
		{mdir + "kernel/drivers/misc/pvpanic", d | 0o755, ""},
		{mdir + "kernel/drivers/misc/pvpanic/pvpanic-mmio.ko", f | 0o644, ""},
		{mdir + "kernel/drivers/misc/pvpanic/pvpanic.ko", f | 0o644, ""},
		{mdir + "kernel/drivers/virtio", d | 0o755, ""},
		{mdir + "kernel/drivers/virtio/virtio_pci.ko", f | 0o644, ""},
		{mdir + "kernel/drivers/virtio/virtio_pci_modern_dev.ko", f | 0o644, ""},
		{mdir + "modules.dep", f | 0o644, "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n" +
			"kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko\n" +
			"kernel/drivers/char/virtio_console.ko:\n" +
			"kernel/drivers/misc/pvpanic/pvpanic.ko:\n" +
			"kernel/drivers/misc/pvpanic/pvpanic-mmio.ko: kernel/drivers/misc/pvpanic/pvpanic.ko\n"},
		{"proc", d | 0o555, ""},
		{"sys", d | 0o555, ""},
		{"tmp", d | 0o1777, ""},
		{"usr", d | 0o755, ""},
		{"usr/local", d | 0o755, ""},
		{"usr/local/bin", d | 0o755, ""},
		{"usr/local/bin/prog", f | 0o750, "#!/bin/sh\necho hi\n"},
	}
	got := readImage(t, img.Path)
	for i := range max(len(got), len(want)) {
		var g, w rec
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if strings.HasSuffix(w.name, ".ko") {
			// Module files are copied as they are.
			src, _ := os.ReadFile(filepath.Join(fx.kernel.ModulesDir, strings.TrimPrefix(w.name, mdir)))
			w.data = string(src)
		}
		if g != w {
			t.Errorf("record %d = %s %o (%d bytes), want %s %o (%d bytes)", i, g.name, g.mode, len(g.data), w.name, w.mode, len(w.data))
		}
	}
}

func TestBuildReproducible(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	a, err := (&Builder{CacheDir: t.TempDir()}).Build(ctx, fx.spec())
	must(t, err)
	// Touch the inputs: only their contents may count.
	must(t, os.Chtimes(fx.init, aTime, aTime))
	b, err := (&Builder{CacheDir: t.TempDir()}).Build(ctx, fx.spec())
	must(t, err)
	ab, _ := os.ReadFile(a.Path)
	bb, _ := os.ReadFile(b.Path)
	if a.Hash != b.Hash || !bytes.Equal(ab, bb) {
		t.Fatalf("two builds of one spec: hashes %s %s, bytes equal %v; want identical", a.Hash, b.Hash, bytes.Equal(ab, bb))
	}
	changes := []struct {
		name   string
		change func(*Spec)
	}{
		{"init", func(s *Spec) {
			p := filepath.Join(t.TempDir(), "kvet")
			must(t, os.WriteFile(p, append(elfFile(t, elf.ET_EXEC), 'x'), 0o755))
			s.Init = p
		}},
		{"kernel", func(s *Spec) { k := *s.Kernel; k.SHA256 = strings.Repeat("cd", 32); s.Kernel = &k }},
		{"modules", func(s *Spec) { s.Modules = DefaultModules[:2] }},
		{"module order", func(s *Spec) { s.Modules = []string{"virtio_console", "virtio_pci"} }},
		{"extra content", func(s *Spec) {
			p := filepath.Join(t.TempDir(), "prog")
			must(t, os.WriteFile(p, []byte("#!/bin/sh\necho ho\n"), 0o750))
			s.Extra = []File{{Src: p, Dst: "/usr/local/bin/prog"}}
		}},
		{"extra mode", func(s *Spec) {
			p := filepath.Join(t.TempDir(), "prog")
			must(t, os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o755))
			s.Extra = []File{{Src: p, Dst: "/usr/local/bin/prog"}}
		}},
		{"extra place", func(s *Spec) { s.Extra = []File{{Src: fx.extra, Dst: "/prog"}} }},
	}
	for _, c := range changes {
		s := fx.spec()
		c.change(&s)
		img, err := (&Builder{CacheDir: t.TempDir()}).Build(ctx, s)
		must(t, err)
		if img.Hash == a.Hash {
			t.Errorf("Build() with another %s: hash %s, want a different one", c.name, img.Hash)
		}
	}
}

func TestBuildCached(t *testing.T) {
	fx := newFixture(t)
	b := &Builder{CacheDir: t.TempDir()}
	first, err := b.Build(context.Background(), fx.spec())
	must(t, err)
	st1, _ := os.Stat(first.Path)
	// Another builder (another process, as far as the cache knows).
	second, err := (&Builder{CacheDir: b.CacheDir}).Build(context.Background(), fx.spec())
	must(t, err)
	st2, _ := os.Stat(second.Path)
	if !second.Cached || second.Path != first.Path || !os.SameFile(st1, st2) || !slices.Equal(second.Load, first.Load) {
		t.Errorf("second Build() = cached %v path %s load %q, want the first image %s reused", second.Cached, second.Path, second.Load, first.Path)
	}
	ents, _ := os.ReadDir(filepath.Join(b.CacheDir, "images"))
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the cache", e.Name())
		}
	}
}

func TestBuildConcurrent(t *testing.T) {
	fx := newFixture(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	imgs := make([]*Image, 4)
	errs := make([]error, 4)
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = (&Builder{CacheDir: dir}).Build(context.Background(), fx.spec())
		}()
	}
	wg.Wait()
	built := 0
	for i := range imgs {
		must(t, errs[i])
		if !imgs[i].Cached {
			built++
		}
	}
	if built != 1 {
		t.Errorf("4 concurrent builds built %d images, want 1", built)
	}
	readImage(t, imgs[0].Path)
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name   string
		fx     fixture
		change func(*Spec)
		want   []string
	}{
		{"required module missing", newFixture(t, "virtio_console"), nil, []string{"test (" + release + ")", "virtio_console", "results port"}},
		{"dependency missing", newFixture(t, "virtio_pci_modern_dev"), nil, []string{"virtio_pci", "virtio_pci_modern_dev"}},
		{"required module, no modules dir", newFixture(t), func(s *Spec) {
			k := *s.Kernel
			k.ModulesDir, k.Config = "", map[string]string{"CONFIG_VIRTIO_PCI": "m"}
			s.Kernel = &k
		}, []string{"virtio_pci", "no modules directory"}},
		{"relative destination", newFixture(t), func(s *Spec) { s.Extra[0].Dst = "prog" }, []string{"not an absolute"}},
		{"clash with init", newFixture(t), func(s *Spec) { s.Extra[0].Dst = "/init" }, []string{"/init: twice"}},
		{"missing extra", newFixture(t), func(s *Spec) { s.Extra[0].Src = "/nonexistent/prog" }, []string{"/nonexistent/prog"}},
		{"dynamic init", newFixture(t), func(s *Spec) { s.Init = "/bin/true" }, []string{"CGO_ENABLED=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.fx.spec()
			if tt.change != nil {
				tt.change(&s)
			}
			_, err := (&Builder{CacheDir: t.TempDir()}).Build(context.Background(), s)
			if err == nil {
				t.Fatalf("Build() = nil error, want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Build() = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestBuildNoModulesDir(t *testing.T) {
	fx := newFixture(t)
	k := *fx.kernel
	k.ModulesDir = ""
	s := fx.spec()
	s.Kernel = &k
	img, err := (&Builder{CacheDir: t.TempDir()}).Build(context.Background(), s)
	must(t, err)
	if optional := len(DefaultModules) - len(requiredModules); len(img.Load) != 0 || len(img.Skipped) != optional {
		t.Errorf("Build(no modules dir) = load %q skipped %q, want nothing loaded and the %d optional modules skipped", img.Load, img.Skipped, optional)
	}
}

var (
	staticOnce sync.Once
	staticBin  string
	staticErr  error
)

// staticBinary builds a small static Go program.
func staticBinary(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain")
	}
	staticOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kvet-static-")
		if err != nil {
			staticErr = err
			return
		}
		must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"os\"\n\nfunc main() { os.Exit(0) }\n"), 0o644))
		cmd := exec.Command("go", "build", "-o", "hello", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = errors.New(string(out))
		}
		staticBin = filepath.Join(dir, "hello")
	})
	if staticErr != nil {
		t.Fatalf("build a static binary: %v", staticErr)
	}
	return staticBin
}

func TestCheckStatic(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755))
	obj := filepath.Join(dir, "obj.ko")
	must(t, os.WriteFile(obj, fakeModule(t, "depends="), 0o644))
	hand := filepath.Join(dir, "hand")
	must(t, os.WriteFile(hand, elfFile(t, elf.ET_EXEC), 0o755))
	tests := []struct {
		name      string
		path      string
		notStatic bool
		want      string // substring of the error, "" for none
	}{
		{"static go binary", staticBinary(t), false, ""},
		{"hand-made static elf", hand, false, ""},
		{"dynamic /bin/true", "/bin/true", true, "CGO_ENABLED=0 go build -o kvet ./cmd/kvet"},
		{"shell script", script, false, "not an ELF executable"},
		{"object file", obj, false, "not an executable"},
		{"missing", filepath.Join(dir, "none"), false, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil && tt.want != "no such file" {
				t.Skipf("%s: %v", tt.path, err)
			}
			err := CheckStatic(tt.path)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckStatic(%s) = %v, want nil", tt.path, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckStatic(%s) = %v, want an error with %q", tt.path, err, tt.want)
			case errors.Is(err, ErrNotStatic) != tt.notStatic:
				t.Errorf("CheckStatic(%s) = %v; errors.Is(ErrNotStatic) = %v, want %v", tt.path, err, !tt.notStatic, tt.notStatic)
			}
		})
	}
}

var aTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// FuzzCheckStatic feeds arbitrary files to CheckStatic: it reads a binary
// the user names and must answer, not crash.
func FuzzCheckStatic(f *testing.F) {
	f.Add(elfFile(f, elf.ET_EXEC))
	f.Add(fakeModule(f, "depends="))
	f.Add([]byte("#!/bin/sh\n"))
	if b, err := os.ReadFile("/bin/true"); err == nil && len(b) < 1<<20 {
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "bin")
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		CheckStatic(p)
	})
}

// TestBuildDecompressesModules: compressed modules go into the image
// decompressed, under their .ko name, in modules.dep too, on every build
// of a builder (whose module resolutions are shared).
func TestBuildDecompressesModules(t *testing.T) {
	fx := newFixture(t)
	plain := filepath.Join(fx.kernel.ModulesDir, "kernel/drivers/char/virtio_console.ko")
	obj, err := os.ReadFile(plain)
	must(t, err)
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	must(t, err)
	_, err = w.Write(obj)
	must(t, err)
	must(t, w.Close())
	must(t, os.WriteFile(plain+".xz", buf.Bytes(), 0o644))
	must(t, os.Remove(plain))
	b := &Builder{CacheDir: t.TempDir()}
	for i := 0; i < 2; i++ {
		s := fx.spec()
		if i == 1 {
			s.Extra = nil // a different image from the same resolutions
		}
		img, err := b.Build(context.Background(), s)
		must(t, err)
		var found bool
		for _, r := range readImage(t, img.Path) {
			if strings.HasSuffix(r.name, ".xz") {
				t.Errorf("build %d: %s is still compressed", i, r.name)
			}
			if strings.HasSuffix(r.name, "/virtio_console.ko") {
				found = true
				if r.data != string(obj) {
					t.Errorf("build %d: virtio_console.ko is not the decompressed module", i)
				}
			}
			if strings.HasSuffix(r.name, "modules.dep") && !strings.Contains(r.data, "kernel/drivers/char/virtio_console.ko:") {
				t.Errorf("build %d: modules.dep = %q, want the .ko name", i, r.data)
			}
		}
		if !found {
			t.Errorf("build %d: no virtio_console.ko in the image", i)
		}
	}
}

// Two exec programs bring the same shared libraries: the same file at the
// same place twice is one entry, a different file at that place an error.
func TestBuildSameExtraTwice(t *testing.T) {
	fx := newFixture(t)
	s := fx.spec()
	s.Extra = append(s.Extra, s.Extra[0])
	if _, err := (&Builder{CacheDir: t.TempDir()}).Build(context.Background(), s); err != nil {
		t.Fatalf("Build() with the same extra file twice = %v, want no error", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("other content"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.Extra[1].Src = other
	if _, err := (&Builder{CacheDir: t.TempDir()}).Build(context.Background(), s); err == nil || !strings.Contains(err.Error(), "twice in the image") {
		t.Fatalf("Build() with two files at one place = %v, want twice in the image", err)
	}
}
