package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTamperedCacheRefetched plants another kernel's .deb under the 6.12
// kernel's name in a private cache, as a tampered or corrupt cache would
// hold it: kvet must fetch the real one again from the archive, with a
// warning, and never resolve to the planted kernel. Then it tampers with
// the extraction, which must be made again.
func TestTamperedCacheRefetched(t *testing.T) {
	need(t)
	deb61, deb612 := kernelDeb(t, "6.1"), kernelDeb(t, "6.12")
	shared, err := cacheDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "kvet")
	must(t, os.MkdirAll(filepath.Join(cache, "debs"), 0o755))
	// The archive indexes are copied, not shared: this cache is tampered with.
	if out, err := exec.Command("cp", "-r", filepath.Join(shared, "indexes"), cache).CombinedOutput(); err != nil {
		t.Logf("no indexes copied (%v: %s); kvet fetches them", err, out)
	}
	planted, err := os.ReadFile(deb61)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(cache, "debs", filepath.Base(deb612)), planted, 0o644))
	sum612 := strings.TrimSuffix(filepath.Base(deb612), ".deb")

	fetch := func(want string) string {
		t.Helper()
		r := kvet(t, 10*time.Minute, "kernels", "fetch", "--cache", cache, "linux-image-6.12-cloud-amd64")
		if r.code != 0 || !strings.Contains(r.stdout, " 6.12.") || strings.Contains(r.stdout, "6.1.0-") {
			t.Fatalf("kvet kernels fetch = exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, want) {
			t.Errorf("kvet kernels fetch gave no %q warning; stderr:\n%s", want, r.stderr)
		}
		return r.stdout
	}
	first := fetch("cached file corrupt")
	if got, _ := fileSum(filepath.Join(cache, "debs", filepath.Base(deb612))); got != sum612 {
		t.Errorf("the cached .deb has sha256 %s after the fetch, want %s", got, sum612)
	}

	// The extraction: another kernel's image in place of this one's.
	images, _ := filepath.Glob(filepath.Join(cache, "extracted", sum612, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		t.Fatalf("extracted images %v, want one", images)
	}
	must(t, os.WriteFile(images[0], planted[:1<<20], 0o644))
	if second := fetch("extraction changed"); second != first {
		t.Errorf("after re-extraction kvet kernels fetch printed\n%s\nwant\n%s", second, first)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fileSum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}
