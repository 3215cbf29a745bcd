package kernels

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFromDeb(t *testing.T) {
	for _, dataName := range []string{"data.tar.xz", "data.tar.zst", "data.tar.gz", "data.tar"} {
		t.Run(dataName, func(t *testing.T) {
			deb := writeTemp(t, "linux-image-test.deb", fakeDeb(t, "linux-image-"+testRelease, "6.12.1-1", dataName, kernelDebEntries(t)))
			cache := t.TempDir()
			k, err := FromDeb(context.Background(), deb, cache)
			if err != nil {
				t.Fatalf("FromDeb() error = %v", err)
			}
			image := fakeBzImage(testRelease)
			sum := sha256.Sum256(image)
			if k.Package != "linux-image-"+testRelease || k.Version != "6.12.1-1" || k.Release != testRelease ||
				k.SHA256 != hex.EncodeToString(sum[:]) || k.Source != deb || k.HZ() != 1000 || k.Preemption() != "dynamic(full)" {
				t.Errorf("FromDeb() = %+v, HZ %d, preemption %q", k, k.HZ(), k.Preemption())
			}
			if b, err := os.ReadFile(k.Vmlinuz); err != nil || !bytes.Equal(b, image) {
				t.Errorf("FromDeb() image %s: %v, want the packaged image", k.Vmlinuz, err)
			}
			if rel, err := ImageRelease(bytes.NewReader(image)); err != nil || rel != k.Release {
				t.Errorf("ImageRelease() = %q, %v, want %q", rel, err, k.Release)
			}
			if want := "lib/modules/" + testRelease; !strings.HasSuffix(filepath.ToSlash(k.ModulesDir), want) {
				t.Errorf("FromDeb() ModulesDir = %q, want .../%s", k.ModulesDir, want)
			}
			mods, builtin, err := k.modules("mod_a")
			var names []string
			for _, m := range mods {
				names = append(names, m.Name)
			}
			if err != nil || !slices.Equal(names, []string{"mod_d", "mod_b", "mod_c", "mod_a"}) || !slices.Equal(builtin, []string{"mod_e"}) {
				t.Errorf("Modules(mod_a) = %q, %q, %v", names, builtin, err)
			}
			// Only the kernel's files are kept.
			root := filepath.Dir(filepath.Dir(k.Vmlinuz))
			for _, p := range []string{"usr/share/doc", "boot/System.map-" + testRelease, "lib/modules/" + testRelease + "/build"} {
				if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
					t.Errorf("FromDeb() extracted %s", p)
				}
			}
		})
	}
}

// A warm FromDeb answers from the cached extraction; a .deb rewritten with
// its old size and modification time is still seen as changed (its change
// time moved), hashed again, and its new content is what counts.
func TestFromDebWarm(t *testing.T) {
	data := fakeDeb(t, "linux-image-"+testRelease, "6.12.1-1", "data.tar.xz", kernelDebEntries(t))
	deb := writeTemp(t, "k.deb", data)
	cache := t.TempDir()
	cold, err := FromDeb(context.Background(), deb, cache)
	if err != nil {
		t.Fatalf("FromDeb() error = %v", err)
	}
	warm, err := FromDeb(context.Background(), deb, cache)
	if err != nil {
		t.Fatalf("FromDeb() warm error = %v", err)
	}
	if warm.Vmlinuz != cold.Vmlinuz || warm.SHA256 != cold.SHA256 || warm.Version != cold.Version || warm.HZ() != cold.HZ() || len(warm.Warnings) != 0 {
		t.Errorf("FromDeb() warm = %+v, want %+v", warm, cold)
	}
	fi, err := os.Stat(deb)
	must(t, err)
	time.Sleep(10 * time.Millisecond) // a change time the rewrite cannot share
	must(t, os.WriteFile(deb, make([]byte, len(data)), 0o644))
	must(t, os.Chtimes(deb, fi.ModTime(), fi.ModTime()))
	if _, err := FromDeb(context.Background(), deb, cache); !errors.Is(err, ErrNotDeb) {
		t.Errorf("FromDeb() after a rewrite with the same size and mtime: error = %v, want ErrNotDeb", err)
	}
}

// A cache someone cleaned by hand, or a crashed extraction, is redone.
func TestFromDebRepair(t *testing.T) {
	deb := writeTemp(t, "k.deb", fakeDeb(t, "linux-image-"+testRelease, "1", "data.tar.gz", kernelDebEntries(t)))
	cache := t.TempDir()
	k, err := FromDeb(context.Background(), deb, cache)
	if err != nil {
		t.Fatalf("FromDeb() error = %v", err)
	}
	must(t, os.Remove(k.Vmlinuz))
	root := filepath.Join(cache, "extracted")
	sum := filepath.Base(filepath.Dir(filepath.Dir(k.Vmlinuz)))
	stale := filepath.Join(root, ".tmp-"+sum[:16]+"-crashed")
	must(t, os.MkdirAll(stale, 0o755))
	k2, err := FromDeb(context.Background(), deb, cache)
	if err != nil {
		t.Fatalf("FromDeb() after cleaning error = %v", err)
	}
	if _, err := os.Stat(k2.Vmlinuz); err != nil || k2.SHA256 != k.SHA256 {
		t.Errorf("FromDeb() after cleaning: image %v, sha %s, want %s", err, k2.SHA256, k.SHA256)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary directory: %v, want removed", err)
	}
}

func TestFromDebConcurrent(t *testing.T) {
	deb := writeTemp(t, "k.deb", fakeDeb(t, "linux-image-"+testRelease, "1", "data.tar.xz", kernelDebEntries(t)))
	cache := t.TempDir()
	const n = 4
	ks := make([]*Kernel, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ks[i], errs[i] = FromDeb(context.Background(), deb, cache) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("FromDeb() #%d error = %v", i, errs[i])
		}
		if ks[i].Vmlinuz != ks[0].Vmlinuz {
			t.Errorf("FromDeb() #%d image %s, #0 %s", i, ks[i].Vmlinuz, ks[0].Vmlinuz)
		}
	}
	ents, err := os.ReadDir(filepath.Join(cache, "extracted"))
	must(t, err)
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) != 1 || strings.HasPrefix(dirs[0], ".tmp") {
		t.Errorf("extracted/ holds %q, want one extraction and no temporary directory", dirs)
	}
}

func TestFromDebCanceled(t *testing.T) {
	deb := writeTemp(t, "k.deb", fakeDeb(t, "linux-image-"+testRelease, "1", "data.tar.xz", kernelDebEntries(t)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cache := t.TempDir()
	if _, err := FromDeb(ctx, deb, cache); !errors.Is(err, context.Canceled) {
		t.Errorf("FromDeb(canceled) error = %v, want context.Canceled", err)
	}
}

func TestFromDebErrors(t *testing.T) {
	good := fakeDeb(t, "linux-image-x", "1", "data.tar.xz", kernelDebEntries(t))
	docOnly := fakeDeb(t, "linux-doc", "1", "data.tar.xz", []tarEntry{{name: "./usr/share/doc/x", body: "x"}})
	tests := []struct {
		name    string
		data    []byte
		wantErr string
		is      error
	}{
		{"empty", nil, "not a Debian package (no ar header)", ErrNotDeb},
		{"garbage", []byte("PK\x03\x04 this is a zip file, not a .deb"), "no ar header", ErrNotDeb},
		{"truncated header", good[:40], "truncated", nil},
		{"truncated member", good[:len(good)/2], "truncated: ar member", nil},
		{"not a kernel", docOnly, "no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz", ErrNotKernelPackage},
		{"no data", makeAr([]arFile{{"debian-binary", []byte("2.0\n")}}), "want debian-binary, control.tar and data.tar", ErrNotDeb},
		{"format 3", makeAr([]arFile{{"debian-binary", []byte("3.0\n")}}), "not 2.0", ErrNotDeb},
		{"bad size", []byte("!<arch>\ndebian-binary   0           0     0     100644  abc       `\n"), "bad ar member size", ErrNotDeb},
		{"corrupt data", func() []byte {
			b := bytes.Clone(good)
			copy(b[len(b)-200:], bytes.Repeat([]byte{0xff}, 100))
			return b
		}(), "data.tar.xz", nil},
		{"escaping path", fakeDeb(t, "linux-image-x", "1", "data.tar.gz", []tarEntry{
			{name: "./boot/vmlinuz-1", body: "x"},
			{name: "./lib/modules/1/../../../../etc/passwd", body: "x"},
		}), "unsafe path", nil},
		{"two images", fakeDeb(t, "linux-image-x", "1", "data.tar.gz", []tarEntry{
			{name: "./boot/vmlinuz-1", body: "x"}, {name: "./boot/vmlinuz-2", body: "x"},
		}), "two kernel images", nil},
		{"unknown compression", makeAr([]arFile{{"debian-binary", []byte("2.0\n")}, {"control.tar.lz", nil}, {"data.tar.lz", nil}}), "unsupported compression", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deb := writeTemp(t, "bad.deb", tt.data)
			_, err := FromDeb(context.Background(), deb, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), deb) {
				t.Fatalf("FromDeb() error = %v, want one naming %s and containing %q", err, deb, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("FromDeb() error = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
	if _, err := FromDeb(context.Background(), filepath.Join(t.TempDir(), "missing.deb"), t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FromDeb(missing) error = %v, want ErrNotExist", err)
	}
}

func FuzzDeb(f *testing.F) {
	good := fakeDeb(f, "linux-image-x", "1", "data.tar.gz", []tarEntry{
		{name: "./boot/vmlinuz-1", body: "x"},
		{name: "./boot/config-1", body: "CONFIG_HZ=100\n"},
		{name: "./lib/modules/1/kernel/a.ko", body: "x"},
	})
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add(good[:70])
	f.Add([]byte("!<arch>\n"))
	f.Add(makeAr([]arFile{{"debian-binary", []byte("2.0\n")}, {"control.tar", makeTar(f, []tarEntry{{name: "control", body: "Package: a\nVersion: 1\n"}})}, {"data.tar", makeTar(f, []tarEntry{{name: "boot/vmlinuz-2", body: "y"}, {name: "/usr/lib/modules/2/x.ko", body: "z"}, {name: "boot/../../x", body: "z"}})}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		dest := t.TempDir()
		m := &debMeta{}
		if err := extractDeb(context.Background(), bytes.NewReader(b), int64(len(b)), dest, m); err != nil {
			return
		}
		if err := finishMeta(dest, m, 1); err != nil {
			return
		}
		if m.Vmlinuz == "" || m.Release == "" || m.Package == "" {
			t.Errorf("extractDeb() = %+v without an error", m)
		}
		if _, err := os.Stat(filepath.Join(dest, m.Vmlinuz)); err != nil {
			t.Errorf("extractDeb() image: %v", err)
		}
	})
}

// realDebs lists the .deb files KVET_TEST_DEBS (a path list) or
// KVET_TEST_DEB names.
func realDebs(t testing.TB) []string {
	debs := filepath.SplitList(os.Getenv("KVET_TEST_DEBS"))
	if len(debs) == 0 {
		debs = filepath.SplitList(os.Getenv("KVET_TEST_DEB"))
	}
	if len(debs) == 0 {
		if os.Getenv("KVET_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("KVET_TEST_DEB is not set and KVET_REQUIRE_INTEGRATION=1")
		}
		t.Skip("KVET_TEST_DEB names no linux-image .deb")
	}
	return debs
}

func TestFromDebReal(t *testing.T) {
	cache := t.TempDir()
	for _, deb := range realDebs(t) {
		t.Run(filepath.Base(deb), func(t *testing.T) {
			k, err := FromDeb(context.Background(), deb, cache)
			if err != nil {
				t.Fatalf("FromDeb() error = %v", err)
			}
			f, err := os.Open(k.Vmlinuz)
			must(t, err)
			defer f.Close()
			if rel, err := ImageRelease(f); err != nil || rel != k.Release {
				t.Errorf("ImageRelease(%s) = %q, %v, want %q", k.Vmlinuz, rel, err, k.Release)
			}
			if !strings.HasPrefix(k.Package, "linux-image-") || k.Version == "" {
				t.Errorf("FromDeb() package %q version %q", k.Package, k.Version)
			}
			if hz := k.HZ(); hz < 100 || hz > 1000 {
				t.Errorf("HZ() = %d, want 100..1000", hz)
			}
			if k.Preemption() == "" {
				t.Errorf("Preemption() = \"\" with config of %d entries", len(k.Config))
			}
			mods, builtin, err := k.modules("virtio_console", "pvpanic_mmio")
			if err != nil {
				t.Fatalf("Modules() error = %v", err)
			}
			var names []string
			for _, m := range mods {
				names = append(names, m.Name)
			}
			// pvpanic_mmio needs pvpanic; both are modules in Debian's kernels.
			if i, j := slices.Index(names, "pvpanic"), slices.Index(names, "pvpanic_mmio"); i < 0 || j < i {
				t.Errorf("Modules() = %q, want pvpanic before pvpanic_mmio", names)
			}
			vcBuiltin := slices.Contains(builtin, "virtio_console")
			vcModule := slices.Contains(names, "virtio_console")
			switch {
			case strings.HasPrefix(k.Release, "6.1.") && !vcModule:
				t.Errorf("Modules() = %q, %q: want virtio_console a module on %s", names, builtin, k.Release)
			case strings.HasPrefix(k.Release, "6.12.") && !vcBuiltin:
				t.Errorf("Modules() = %q, %q: want virtio_console built in on %s", names, builtin, k.Release)
			}
			t.Logf("%s %s: release %s HZ %d %s; modules.dep:\n%s", k.Package, k.Version, k.Release, k.HZ(), k.Preemption(), ModulesDep(mods))
		})
	}
}

// BenchmarkFromDeb measures a first extraction (cold) and a cached one
// (warm) of the first KVET_TEST_DEB.
func BenchmarkFromDeb(b *testing.B) {
	deb := realDebs(b)[0]
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			cache := b.TempDir()
			b.StartTimer()
			if _, err := FromDeb(context.Background(), deb, cache); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache := b.TempDir()
		if _, err := FromDeb(context.Background(), deb, cache); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := FromDeb(context.Background(), deb, cache); err != nil {
				b.Fatal(err)
			}
		}
	})
}
