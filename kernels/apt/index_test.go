package apt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvet/kvet/kernels/apt"
	"github.com/kvet/kvet/kernels/apt/apttest"
)

// testPkgs is a small kernel archive: two 6.12 builds, their -unsigned and
// -dbg siblings, and meta-packages over them.
func testPkgs() []apttest.Pkg {
	deb := func(s string) []byte { return []byte("!<arch>\n" + s) }
	return []apttest.Pkg{
		{Name: "linux-image-6.12.9+deb12-cloud-amd64", Version: "6.12.9-1~deb12u1", Depends: "kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool", Deb: deb("9")},
		{Name: "linux-image-6.12.10+deb12-cloud-amd64", Version: "6.12.10-1~deb12u1", Depends: "kmod", Deb: deb("10")},
		{Name: "linux-image-6.12.10+deb12-cloud-amd64-unsigned", Version: "6.12.10-1~deb12u1", Depends: "kmod", Deb: deb("10u")},
		{Name: "linux-image-6.12.10+deb12-cloud-amd64-dbg", Version: "6.12.10-1~deb12u1", Deb: deb("10d")},
		{Name: "linux-image-6.12-cloud-amd64", Version: "6.12.10-1~deb12u1", Depends: "linux-image-6.12.10+deb12-cloud-amd64-unsigned (= 6.12.10-1~deb12u1) | linux-image-6.12.10+deb12-cloud-amd64 (= 6.12.10-1~deb12u1)", Deb: deb("m")},
		{Name: "linux-image-cloud-amd64", Version: "6.12.10-1~deb12u1", Depends: "linux-image-6.12-cloud-amd64", Deb: deb("mm")},
		{Name: "linux-image-6.12-cloud-amd64-dbg", Version: "6.12.10-1~deb12u1", Depends: "linux-image-6.12.10+deb12-cloud-amd64-dbg (= 6.12.10-1~deb12u1)", Deb: deb("md")},
		{Name: "hello", Version: "2.10-3", Deb: deb("h")},
	}
}

func newClient(t *testing.T, a *apttest.Archive) (*apt.Client, []apt.Source) {
	t.Helper()
	c := &apt.Client{CacheDir: t.TempDir(), AptDir: t.TempDir()}
	return c, []apt.Source{{URI: a.URL, Suites: []string{"stable"}, Components: []string{"main"}, SignedBy: a.KeyringPath}}
}

func TestIndexGoodPath(t *testing.T) {
	a := apttest.New(t)
	a.Publish(t, "stable", testPkgs()[:5])
	a.Publish(t, "stable-security", testPkgs()[5:])
	c, srcs := newClient(t, a)
	srcs[0].Suites = []string{"stable", "stable-security"}
	ix, err := c.Index(context.Background(), srcs)
	if err != nil {
		t.Fatalf("Index() error = %v", err)
	}
	if len(ix.Stale) != 0 {
		t.Errorf("Index().Stale = %v, want none", ix.Stale)
	}
	// "hello" is filtered out: only kernel images are kept.
	if got, want := len(ix.Packages), 7; got != want {
		t.Errorf("len(Index().Packages) = %d, want %d", got, want)
	}
	tests := []struct{ name, want, version string }{
		{"linux-image-cloud-amd64", "linux-image-6.12.10+deb12-cloud-amd64", "6.12.10-1~deb12u1"},
		{"linux-image-6.12-cloud-amd64", "linux-image-6.12.10+deb12-cloud-amd64", "6.12.10-1~deb12u1"},
		{"linux-image-6.12.9+deb12-cloud-amd64", "linux-image-6.12.9+deb12-cloud-amd64", "6.12.9-1~deb12u1"},
	}
	for _, tt := range tests {
		p, err := ix.Resolve(tt.name)
		if err != nil {
			t.Errorf("Resolve(%s) error = %v", tt.name, err)
			continue
		}
		if p.Name != tt.want || p.Version.String() != tt.version {
			t.Errorf("Resolve(%s) = %s %s, want %s %s", tt.name, p.Name, p.Version, tt.want, tt.version)
		}
		if p.Suite != "stable" || !strings.HasPrefix(p.URL(), a.URL+"/pool/") {
			t.Errorf("Resolve(%s) from %s %s, want suite stable under %s", tt.name, p.Suite, p.URL(), a.URL)
		}
	}
	// The cache holds the verified index: a second client reads it without
	// the Packages file.
	hits := a.Hits("dists/stable/main/binary-amd64/Packages.gz")
	c2 := &apt.Client{CacheDir: c.CacheDir, AptDir: c.AptDir}
	if _, err := c2.Index(context.Background(), srcs); err != nil {
		t.Fatal(err)
	}
	if got := a.Hits("dists/stable/main/binary-amd64/Packages.gz"); got != hits {
		t.Errorf("warm Index() fetched Packages.gz %d more times, want 0", got-hits)
	}
}

func TestIndexOffline(t *testing.T) {
	a := apttest.New(t)
	a.Publish(t, "stable", testPkgs())
	c, srcs := newClient(t, a)
	if _, err := c.Index(context.Background(), srcs); err != nil {
		t.Fatal(err)
	}
	a.Close()
	ix, err := c.Index(context.Background(), srcs)
	if err != nil {
		t.Fatalf("offline Index() error = %v, want the cached index", err)
	}
	if len(ix.Stale) != 1 || ix.Stale[0].Date.IsZero() {
		t.Errorf("offline Index().Stale = %+v, want one suite with a date", ix.Stale)
	}
	if _, err := ix.Resolve("linux-image-cloud-amd64"); err != nil {
		t.Errorf("offline Resolve() error = %v", err)
	}
	c3 := &apt.Client{CacheDir: t.TempDir(), AptDir: c.AptDir}
	_, err = c3.Index(context.Background(), srcs)
	var ue *apt.UnreachableError
	if !errors.As(err, &ue) {
		t.Errorf("offline Index() without cache error = %v, want UnreachableError", err)
	}
}

func TestIndexRefused(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, a *apttest.Archive, srcs []apt.Source)
		wantErr string
	}{
		{"wrong key", func(t *testing.T, a *apttest.Archive, srcs []apt.Source) {
			srcs[0].SignedBy = apttest.WriteKeyring(t, apttest.NewKey(t))
		}, "bad signature"},
		{"altered InRelease", func(t *testing.T, a *apttest.Archive, srcs []apt.Source) {
			p := "dists/stable/InRelease"
			a.Set(p, bytes.Replace(a.Get(p), []byte("Suite: stable"), []byte("Suite: stablf"), 1))
		}, "bad signature"},
		{"unsigned InRelease", func(t *testing.T, a *apttest.Archive, srcs []apt.Source) {
			a.Set("dists/stable/InRelease", []byte("Suite: stable\nSHA256:\n "+strings.Repeat("0", 64)+" 1 main/binary-amd64/Packages\n"))
		}, "bad signature"},
		{"tampered Packages", func(t *testing.T, a *apttest.Archive, srcs []apt.Source) {
			p := "dists/stable/main/binary-amd64/Packages.gz"
			b := bytes.Clone(a.Get(p))
			b[len(b)/2] ^= 1
			a.Set(p, b)
		}, "sha256 mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := apttest.New(t)
			a.Publish(t, "stable", testPkgs())
			c, srcs := newClient(t, a)
			tt.tamper(t, a, srcs)
			_, err := c.Index(context.Background(), srcs)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Index() error = %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr == "bad signature" && !errors.Is(err, apt.ErrSignature) {
				t.Errorf("Index() error = %v, want errors.Is ErrSignature", err)
			}
			if _, err := os.Stat(filepath.Join(c.CacheDir, "indexes")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("refused index was cached (stat: %v)", err)
			}
		})
	}
}

func newFetcher(t *testing.T) *apt.Fetcher {
	return &apt.Fetcher{Dir: t.TempDir(), Backoff: time.Millisecond}
}

func TestFetch(t *testing.T) {
	a := apttest.New(t)
	body := bytes.Repeat([]byte("kernel "), 20000)
	pkgs := []apttest.Pkg{{Name: "linux-image-1", Version: "1", Deb: body}}
	a.Publish(t, "stable", pkgs)
	c, srcs := newClient(t, a)
	ix, err := c.Index(context.Background(), srcs)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ix.Newest("linux-image-1")
	path := strings.TrimPrefix(p.URL(), a.URL+"/")

	t.Run("good", func(t *testing.T) {
		f := newFetcher(t)
		got, err := f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name)
		if err != nil {
			t.Fatalf("Fetch() error = %v", err)
		}
		if got != filepath.Join(f.Dir, p.SHA256+".deb") {
			t.Errorf("Fetch() = %s, want the content address", got)
		}
		if b, _ := os.ReadFile(got); !bytes.Equal(b, body) {
			t.Errorf("Fetch() content differs")
		}
		hits := a.Hits(path)
		if _, err := f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name); err != nil || a.Hits(path) != hits {
			t.Errorf("cached Fetch() = %v with %d downloads, want nil and 0", err, a.Hits(path)-hits)
		}
	})
	t.Run("truncated then resumed", func(t *testing.T) {
		f := newFetcher(t)
		a.Truncate(path, 2)
		hits := a.Hits(path)
		if _, err := f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name); err != nil {
			t.Fatalf("Fetch() error = %v", err)
		}
		if got := a.Hits(path) - hits; got != 3 {
			t.Errorf("Fetch() made %d requests, want 3 (two cut short, one resumed)", got)
		}
		rs := a.Ranges(path)
		rs = rs[len(rs)-3:]
		// Halves of what is left: 0-, then half, then three quarters.
		want := []string{"", fmt.Sprintf("bytes=%d-", len(body)/2), fmt.Sprintf("bytes=%d-", len(body)/2+(len(body)-len(body)/2)/2)}
		if !reflect.DeepEqual(rs, want) {
			t.Errorf("Fetch() Range headers = %q, want %q", rs, want)
		}
	})
	t.Run("always truncated", func(t *testing.T) {
		f := newFetcher(t)
		f.Attempts = 3
		a.Truncate(path, 3)
		_, err := f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name)
		if err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
			t.Errorf("Fetch() error = %v, want failure after 3 attempts", err)
		}
		a.Truncate(path, 0)
	})
	t.Run("tampered", func(t *testing.T) {
		f := newFetcher(t)
		orig := a.Get(path)
		bad := bytes.Clone(orig)
		bad[100] ^= 1
		a.Set(path, bad)
		defer a.Set(path, orig)
		_, err := f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name)
		var me *apt.MismatchError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), "linux-image-1: sha256 mismatch: got ") || !strings.HasSuffix(err.Error(), "; not cached") {
			t.Fatalf("Fetch() error = %v, want a sha256 mismatch", err)
		}
		left, _ := filepath.Glob(filepath.Join(f.Dir, "*.deb*"))
		for _, l := range left {
			if !strings.HasSuffix(l, ".lock") {
				t.Errorf("tampered download left %s behind", l)
			}
		}
	})
	t.Run("not found", func(t *testing.T) {
		f := newFetcher(t)
		_, err := f.Fetch(context.Background(), a.URL+"/pool/nope.deb", p.SHA256, 0, ".deb", "nope")
		var he *apt.HTTPError
		if !errors.As(err, &he) || he.Status != 404 {
			t.Errorf("Fetch(missing) error = %v, want HTTP 404", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		dir := t.TempDir()
		hits := a.Hits(path)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Separate Fetchers stand for separate processes: only the
				// file lock is shared.
				f := &apt.Fetcher{Dir: dir, Backoff: time.Millisecond}
				_, errs[i] = f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Fetch() #%d error = %v", i, err)
			}
		}
		if got := a.Hits(path) - hits; got != 1 {
			t.Errorf("4 concurrent Fetch() downloaded %d times, want 1", got)
		}
	})
}

func TestFetchProgress(t *testing.T) {
	a := apttest.New(t)
	body := bytes.Repeat([]byte("k"), 300000)
	a.Publish(t, "stable", []apttest.Pkg{{Name: "linux-image-1", Version: "1", Deb: body}})
	c, srcs := newClient(t, a)
	ix, err := c.Index(context.Background(), srcs)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ix.Newest("linux-image-1")
	for _, term := range []bool{true, false} {
		var progress, logs bytes.Buffer
		f := &apt.Fetcher{Dir: t.TempDir(), Progress: &progress, Terminal: term, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		if _, err := f.Fetch(context.Background(), p.URL(), p.SHA256, p.Size, ".deb", p.Name); err != nil {
			t.Fatal(err)
		}
		if term && (!strings.Contains(progress.String(), "linux-image-1") || strings.Contains(logs.String(), "downloaded")) {
			t.Errorf("Fetch(terminal) progress = %q, logs = %q, want a bar and no log lines", progress.String(), logs.String())
		}
		if !term && (progress.Len() != 0 || !strings.Contains(logs.String(), "msg=downloaded name=linux-image-1 bytes=300000")) {
			t.Errorf("Fetch(no terminal) progress = %q, logs = %q, want log lines only", progress.String(), logs.String())
		}
	}
}
