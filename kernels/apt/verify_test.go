package apt

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kvet/kvet/kernels/apt/apttest"
)

// A cached file that no longer matches its SHA256 is dropped and fetched
// again with a warning, never returned.
func TestFetchRefetchesCorruptCache(t *testing.T) {
	body := bytes.Repeat([]byte("linux-image .deb "), 4096)
	sum := sha256Hex(body)
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Write(body)
	}))
	defer srv.Close()
	var log bytes.Buffer
	f := &Fetcher{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil))}
	fetch := func() string {
		t.Helper()
		p, err := f.Fetch(context.Background(), srv.URL+"/k.deb", sum, int64(len(body)), ".deb", "linux-image-x 1")
		if err != nil {
			t.Fatalf("Fetch() error = %v", err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
			t.Fatalf("Fetch() returned a file that is not the package")
		}
		return p
	}
	path := fetch()
	fetch()
	if n := gets.Load(); n != 1 {
		t.Fatalf("two fetches made %d downloads, want 1", n)
	}
	for i, tamper := range []func() []byte{
		func() []byte { return bytes.Repeat([]byte("another kernel!! "), 4096) }, // same size
		func() []byte { b := bytes.Clone(body); b[100] ^= 1; return b },
		func() []byte { return body[:len(body)/2] },
	} {
		log.Reset()
		if err := os.WriteFile(path, tamper(), 0o644); err != nil {
			t.Fatal(err)
		}
		fetch()
		if n := gets.Load(); n != int32(i+2) {
			t.Errorf("tamper %d: %d downloads, want %d", i, n, i+2)
		}
		if !strings.Contains(log.String(), "cached file corrupt") {
			t.Errorf("tamper %d: no warning; log:\n%s", i, log.String())
		}
	}
}

// An edited or truncated cached index selection is fetched again, never
// resolved from: truncation must not fall back to an older kernel.
func TestIndexRefetchesCorruptSelection(t *testing.T) {
	a := apttest.New(t)
	a.Publish(t, "stable", []apttest.Pkg{
		{Name: "linux-image-6.12.9+deb12-cloud-amd64", Version: "6.12.9-1", Deb: []byte("!<arch>\n9")},
		{Name: "linux-image-6.12.10+deb12-cloud-amd64", Version: "6.12.10-1", Deb: []byte("!<arch>\n10")},
		{Name: "linux-image-cloud-amd64", Version: "6.12.10-1", Depends: "linux-image-6.12.10+deb12-cloud-amd64", Deb: []byte("!<arch>\nm")},
	})
	var log bytes.Buffer
	c := &Client{CacheDir: t.TempDir(), AptDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil))}
	srcs := []Source{{URI: a.URL, Suites: []string{"stable"}, Components: []string{"main"}, SignedBy: a.KeyringPath}}
	if _, err := c.Index(context.Background(), srcs); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(c.CacheDir, "indexes", "*", "main.packages"))
	if len(files) != 1 {
		t.Fatalf("cached selections %v, want one", files)
	}
	sel, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"edited", bytes.ReplaceAll(sel, []byte("6.12.10-1"), []byte("6.12.99-1"))},
		{"truncated", sel[:bytes.Index(sel, []byte("\n\n"))+2]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.Reset()
			if err := os.WriteFile(files[0], tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			hits := a.Hits("dists/stable/main/binary-amd64/Packages.gz")
			ix, err := (&Client{CacheDir: c.CacheDir, AptDir: c.AptDir, Logger: c.Logger}).Index(context.Background(), srcs)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ix.Resolve("linux-image-cloud-amd64")
			if err != nil || p.Version.String() != "6.12.10-1" {
				t.Errorf("Resolve() from a %s cache = %v %v, want 6.12.10-1", tc.name, p.Version, err)
			}
			if a.Hits("dists/stable/main/binary-amd64/Packages.gz") != hits+1 || !strings.Contains(log.String(), "cached index corrupt") {
				t.Errorf("a %s cached index was not fetched again with a warning; log:\n%s", tc.name, log.String())
			}
		})
	}
}
