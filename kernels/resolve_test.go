package kernels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/kernels/apt"
	"github.com/kvet/kvet/kernels/apt/apttest"
)

// testArchive publishes kernel packages 6.12.1 and 6.12.2 (test builds of
// testRelease), a meta-package over the newer, and a package without a
// kernel; it returns a Resolver reading it through an apt sources file.
func testArchive(t *testing.T) (*apttest.Archive, *Resolver) {
	t.Helper()
	a := apttest.New(t)
	deb := func(name, ver string) []byte { return fakeDeb(t, name, ver, "data.tar.xz", kernelDebEntries(t)) }
	a.Publish(t, "stable", []apttest.Pkg{
		{Name: "linux-image-6.12.1-test-amd64", Version: "6.12.1-1", Deb: deb("linux-image-6.12.1-test-amd64", "6.12.1-1")},
		{Name: "linux-image-6.12.2-test-amd64", Version: "6.12.2-1~deb12u1", Deb: deb("linux-image-6.12.2-test-amd64", "6.12.2-1~deb12u1")},
		{Name: "linux-image-6.12.2-test-amd64-unsigned", Version: "6.12.2-1~deb12u1", Deb: deb("linux-image-6.12.2-test-amd64-unsigned", "6.12.2-1~deb12u1")},
		{Name: "linux-image-test-amd64", Version: "6.12.2-1~deb12u1", Depends: "linux-image-6.12.2-test-amd64 (= 6.12.2-1~deb12u1)",
			Deb: fakeDeb(t, "linux-image-test-amd64", "6.12.2-1~deb12u1", "data.tar.xz", []tarEntry{{name: "./usr/share/doc/x", body: "meta"}})},
		{Name: "linux-image-empty", Version: "1",
			Deb: fakeDeb(t, "linux-image-empty", "1", "data.tar.xz", []tarEntry{{name: "./usr/share/doc/x", body: "nothing"}})},
	})
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "sources.list.d", "test.sources"),
		[]byte("Types: deb\nURIs: "+a.URL+"\nSuites: stable\nComponents: main\nSigned-By: "+a.KeyringPath+"\n"), 0o644))
	return a, &Resolver{CacheDir: t.TempDir(), SourcesDir: dir}
}

func TestResolverPackage(t *testing.T) {
	_, r := testArchive(t)
	ctx := context.Background()
	tests := []struct {
		pkg, wantPkg, wantVer string
	}{
		{"linux-image-test-amd64", "linux-image-6.12.2-test-amd64", "6.12.2-1~deb12u1"},
		{"linux-image-6.12.1-test-amd64", "linux-image-6.12.1-test-amd64", "6.12.1-1"},
	}
	for _, tt := range tests {
		ks, err := r.Resolve(ctx, Spec{Name: "k", Package: tt.pkg})
		if err != nil {
			t.Fatalf("Resolve(%s) error = %v", tt.pkg, err)
		}
		if len(ks) != 1 {
			t.Fatalf("Resolve(%s) = %d kernels, want 1", tt.pkg, len(ks))
		}
		k := ks[0]
		if k.Name != "k" || k.Source != tt.pkg || k.Package != tt.wantPkg || k.Version != tt.wantVer || k.Release != testRelease {
			t.Errorf("Resolve(%s) = %+v, want k from %s = %s %s (%s)", tt.pkg, k, tt.pkg, tt.wantPkg, tt.wantVer, testRelease)
		}
		if _, err := os.Stat(k.Vmlinuz); err != nil {
			t.Errorf("Resolve(%s) vmlinuz: %v", tt.pkg, err)
		}
	}

	ents, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Package+"="+e.Version)
		if !e.Extracted || e.Size == 0 || e.URL == "" {
			t.Errorf("List() entry %+v lacks extraction, size or URL", e)
		}
	}
	if want := []string{"linux-image-6.12.1-test-amd64=6.12.1-1", "linux-image-6.12.2-test-amd64=6.12.2-1~deb12u1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %q, want %q", got, want)
	}
	removed, err := r.Prune("linux-image-6.12.2-test-amd64")
	if err != nil || len(removed) != 1 || removed[0].Package != "linux-image-6.12.1-test-amd64" {
		t.Fatalf("Prune(keep 6.12.2) = %+v, %v, want 6.12.1 removed", removed, err)
	}
	if _, err := os.Stat(filepath.Join(r.CacheDir, "extracted", removed[0].SHA256)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Prune() left the extraction of %s (stat: %v)", removed[0].Package, err)
	}
	if ents, _ := r.List(); len(ents) != 1 {
		t.Errorf("List() after Prune = %d entries, want 1", len(ents))
	}
}

func TestResolverSeries(t *testing.T) {
	_, r := testArchive(t)
	ks, err := r.Resolve(context.Background(), Spec{Name: "t", Series: "linux-image-6.12.*-test-amd64*"})
	if err != nil {
		t.Fatalf("Resolve(series) error = %v", err)
	}
	var got []string
	for _, k := range ks {
		got = append(got, k.Name+" "+k.Package+" "+k.Version)
	}
	want := []string{"t@6.12.1 linux-image-6.12.1-test-amd64 6.12.1-1", "t@6.12.2 linux-image-6.12.2-test-amd64 6.12.2-1~deb12u1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve(series) = %q, want %q", got, want)
	}
	pvs, err := r.Lookup(context.Background(), Spec{Series: "linux-image-6.12.*-test-amd64", Since: "6.12.2"})
	if err != nil || len(pvs) != 1 || pvs[0].Version != "6.12.2-1~deb12u1" || !pvs[0].Cached {
		t.Errorf("Lookup(since 6.12.2) = %+v, %v, want the cached 6.12.2", pvs, err)
	}
}

func TestResolverSearch(t *testing.T) {
	_, r := testArchive(t)
	pvs, err := r.Search(context.Background(), "test-amd64")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pv := range pvs {
		s := pv.Package + " " + pv.Version
		if pv.Resolved != nil {
			s += " -> " + pv.Resolved.Package
		}
		got = append(got, s)
	}
	want := []string{
		"linux-image-6.12.2-test-amd64 6.12.2-1~deb12u1",
		"linux-image-6.12.2-test-amd64-unsigned 6.12.2-1~deb12u1",
		"linux-image-test-amd64 6.12.2-1~deb12u1 -> linux-image-6.12.2-test-amd64",
		"linux-image-6.12.1-test-amd64 6.12.1-1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Search() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestResolverErrors(t *testing.T) {
	a, r := testArchive(t)
	ctx := context.Background()
	_, err := r.Resolve(ctx, Spec{Name: "e", Package: "linux-image-empty"})
	if !errors.Is(err, ErrNotKernelPackage) {
		t.Errorf("Resolve(no kernel) error = %v, want ErrNotKernelPackage", err)
	}
	_, err = r.Resolve(ctx, Spec{Name: "n", Package: "linux-image-6.12-test-amd64"})
	var nf *apt.NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "not found; nearest: linux-image-6.12.1-test-amd64, linux-image-6.12.2-test-amd64, linux-image-test-amd64") {
		t.Errorf("Resolve(unknown) error = %v, want nearest names", err)
	}
	_, err = r.Resolve(ctx, Spec{Name: "p", Package: "linux-image-test-amd64", SHA256: strings.Repeat("0", 64)})
	if err == nil || !strings.Contains(err.Error(), "the matrix pins") {
		t.Errorf("Resolve(pinned sha256) error = %v, want a pin mismatch", err)
	}
	empty := &Resolver{CacheDir: t.TempDir(), SourcesDir: t.TempDir()}
	_, err = empty.Resolve(ctx, Spec{Name: "x", Package: "linux-image-test-amd64"})
	if want := "no apt sources found in " + empty.SourcesDir + "; set mirror: and suite: in the matrix or --mirror/--suite"; err == nil || err.Error() != want {
		t.Errorf("Resolve(no sources) error = %v, want %q", err, want)
	}
	// A mirror with its keyring stands in for the host's sources.
	m := &Resolver{CacheDir: t.TempDir(), SourcesDir: t.TempDir(), Archive: Archive{Mirror: a.URL, Suite: "stable", Keyring: a.KeyringPath}}
	if ks, err := m.Resolve(ctx, Spec{Name: "m", Package: "linux-image-test-amd64"}); err != nil || ks[0].Version != "6.12.2-1~deb12u1" {
		t.Errorf("Resolve(mirror) = %v, want 6.12.2-1~deb12u1", err)
	}
	wrong := &Resolver{CacheDir: t.TempDir(), SourcesDir: t.TempDir(), Archive: Archive{Mirror: a.URL, Suite: "stable", Keyring: apttest.WriteKeyring(t, apttest.NewKey(t))}}
	if _, err := wrong.Resolve(ctx, Spec{Name: "w", Package: "linux-image-test-amd64"}); !errors.Is(err, apt.ErrSignature) {
		t.Errorf("Resolve(wrong key) error = %v, want ErrSignature", err)
	}
}

func TestResolverURL(t *testing.T) {
	a, r := testArchive(t)
	ctx := context.Background()
	path := "pool/main/l/linux-image-6.12.1-test-amd64_6.12.1-1_amd64.deb"
	sum := sha256.Sum256(a.Get(path))
	good := hex.EncodeToString(sum[:])
	url := a.URL + "/" + path
	if _, err := r.Resolve(ctx, Spec{Name: "u", Deb: url}); err == nil || !strings.Contains(err.Error(), "needs sha256") {
		t.Errorf("Resolve(deb URL without sha256) error = %v", err)
	}
	bad := strings.Repeat("ab", 32)
	_, err := r.Resolve(ctx, Spec{Name: "u", Deb: url, SHA256: bad})
	var me *apt.MismatchError
	if !errors.As(err, &me) || me.Got != good {
		t.Errorf("Resolve(deb URL, wrong sha256) error = %v, want a mismatch", err)
	}
	if ents, _ := r.List(); len(ents) != 0 {
		t.Errorf("a mismatched download was cached: %+v", ents)
	}
	ks, err := r.Resolve(ctx, Spec{Name: "u", Deb: url, SHA256: strings.ToUpper(good)})
	if err != nil || ks[0].Source != url || ks[0].Release != testRelease {
		t.Fatalf("Resolve(deb URL) = %v, want the kernel", err)
	}
	// vmlinuz by URL goes through the same cache.
	img := fakeBzImage(testRelease)
	a.Set("boot/vmlinuz", img)
	isum := sha256.Sum256(img)
	ks, err = r.Resolve(ctx, Spec{Name: "v", Vmlinuz: a.URL + "/boot/vmlinuz", SHA256: hex.EncodeToString(isum[:])})
	if err != nil || ks[0].Release != testRelease {
		t.Fatalf("Resolve(vmlinuz URL) = %v", err)
	}
	if ents, _ := r.List(); len(ents) != 2 {
		t.Errorf("List() = %d entries, want the .deb and the vmlinuz", len(ents))
	}
}

// TestResolveHostArchive resolves real kernel packages through the host's
// apt sources, without downloading them.
func TestResolveHostArchive(t *testing.T) {
	required := os.Getenv("KVET_REQUIRE_INTEGRATION") == "1"
	skip := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	srcs, err := apt.ReadSources("/etc/apt")
	if err != nil {
		skip("host apt sources: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: time.Minute}
	probe, _ := http.NewRequestWithContext(ctx, http.MethodHead, srcs[0].URI+"/dists/"+srcs[0].Suites[0]+"/InRelease", nil)
	if resp, err := hc.Do(probe); err != nil {
		skip("archive unreachable: %v", err)
	} else {
		resp.Body.Close()
	}
	r := &Resolver{CacheDir: t.TempDir(), HTTP: hc}
	pvs, err := r.Lookup(ctx, Spec{Package: "linux-image-6.12-cloud-amd64"})
	if err != nil {
		t.Fatalf("Lookup(linux-image-6.12-cloud-amd64) error = %v", err)
	}
	p := pvs[0]
	if !strings.HasPrefix(p.Package, "linux-image-6.12.") || !strings.HasSuffix(p.Package, "-cloud-amd64") || !strings.HasPrefix(p.Version, "6.12.") || len(p.SHA256) != 64 {
		t.Errorf("Lookup(linux-image-6.12-cloud-amd64) = %+v, want a concrete 6.12 cloud kernel", p)
	}
	t.Logf("linux-image-6.12-cloud-amd64 -> %s %s (%s, %d bytes)", p.Package, p.Version, p.Suite, p.Size)
	found, err := r.Search(ctx, "linux-image-6.12.*-cloud-amd64")
	if err != nil || len(found) == 0 {
		t.Fatalf("Search(linux-image-6.12.*-cloud-amd64) = %d, %v, want some", len(found), err)
	}
	if found[0].Version != p.Version {
		t.Errorf("Search() newest = %s %s, want %s %s first", found[0].Package, found[0].Version, p.Package, p.Version)
	}
	t.Logf("Search: %d packages, newest %s %s", len(found), found[0].Package, found[0].Version)
}

// TestResolverOffline resolves from the cache once the archive is gone.
func TestResolverOffline(t *testing.T) {
	a, r := testArchive(t)
	ctx := context.Background()
	if _, err := r.Resolve(ctx, Spec{Name: "k", Package: "linux-image-test-amd64"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	var logs strings.Builder
	off := &Resolver{CacheDir: r.CacheDir, SourcesDir: r.SourcesDir, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ks, err := off.Resolve(ctx, Spec{Name: "k", Package: "linux-image-test-amd64"})
	if err != nil || ks[0].Version != "6.12.2-1~deb12u1" {
		t.Fatalf("offline Resolve() = %v, want the cached 6.12.2-1~deb12u1", err)
	}
	if !strings.Contains(logs.String(), "using cached index") || !strings.Contains(logs.String(), "date=") {
		t.Errorf("offline Resolve() logged %q, want a warning with the index date", logs.String())
	}
	// Downloads retry for a while; the deadline keeps the test short.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := off.Resolve(short, Spec{Name: "k", Package: "linux-image-6.12.1-test-amd64"}); err == nil {
		t.Errorf("offline Resolve(uncached .deb) error = nil, want one")
	}
}
