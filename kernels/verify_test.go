package kernels

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A cached extraction whose files changed (another kernel's image put in
// its place, a flipped bit) is made again from the .deb, with a warning,
// never booted as it is.
func TestFromDebReextractsCorruptExtraction(t *testing.T) {
	other := fakeDeb(t, "linux-image-"+testRelease, "6.12.1-1", "data.tar.xz", kernelDebEntries(t))
	deb := writeTemp(t, "k.deb", other)
	cache := t.TempDir()
	k, err := FromDeb(context.Background(), deb, cache)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(k.Vmlinuz)
	must(t, err)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T)
	}{
		{"image replaced", func(t *testing.T) { must(t, os.WriteFile(k.Vmlinuz, []byte("another kernel"), 0o644)) }},
		{"bit flipped", func(t *testing.T) {
			b := bytes.Clone(want)
			b[len(b)/2] ^= 1
			must(t, os.WriteFile(k.Vmlinuz, b, 0o644))
		}},
		{"file added", func(t *testing.T) {
			must(t, os.WriteFile(filepath.Join(filepath.Dir(k.Vmlinuz), "extra"), []byte("x"), 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.tamper(t)
			got, err := FromDeb(context.Background(), deb, cache)
			if err != nil {
				t.Fatalf("FromDeb(tampered extraction) error = %v", err)
			}
			if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "extraction changed") || !strings.Contains(got.Warnings[0], "extracted again") {
				t.Errorf("FromDeb(tampered extraction).Warnings = %q, want one naming the repair", got.Warnings)
			}
			if b, _ := os.ReadFile(got.Vmlinuz); !bytes.Equal(b, want) {
				t.Errorf("FromDeb(tampered extraction) left the tampered image in place")
			}
			again, err := FromDeb(context.Background(), deb, cache)
			if err != nil || len(again.Warnings) != 0 {
				t.Errorf("FromDeb(repaired) = %v, warnings %q; want no warning", err, again.Warnings)
			}
		})
	}
}

// Many entries naming one .deb cost little each: it is read once.
func TestResolveSameDebIsCheap(t *testing.T) {
	deb := writeTemp(t, "k.deb", fakeDeb(t, "linux-image-"+testRelease, "6.12.1-1", "data.tar.xz", kernelDebEntries(t)))
	r := &Resolver{CacheDir: t.TempDir()}
	first, err := r.Resolve(context.Background(), Spec{Name: "k0", Deb: deb})
	must(t, err)
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		ks, err := r.Resolve(context.Background(), Spec{Name: fmt.Sprintf("k%d", i+1), Deb: deb})
		must(t, err)
		if ks[0].SHA256 != first[0].SHA256 || ks[0].Name != fmt.Sprintf("k%d", i+1) {
			t.Fatalf("Resolve(k%d) = %+v", i+1, ks[0])
		}
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes allocated per entry", per)
	if per > 64<<10 {
		t.Errorf("Resolve allocates %d bytes per entry naming a read .deb, want at most 64 KiB", per)
	}
}
