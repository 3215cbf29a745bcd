package apt

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func index(t *testing.T, pkgs ...string) *Index {
	t.Helper()
	var b strings.Builder
	for i, p := range pkgs {
		name, rest, _ := strings.Cut(p, " ")
		ver, dep, _ := strings.Cut(rest, " ")
		fmt.Fprintf(&b, "Package: %s\nVersion: %s\nFilename: pool/%d.deb\nSize: 1\nSHA256: %064d\n", name, ver, i, i)
		if dep != "" {
			fmt.Fprintf(&b, "Depends: %s\n", dep)
		}
		b.WriteString("\n")
	}
	ps, err := ParsePackages(strings.NewReader(b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Index{Packages: ps}
}

func names(ps []Package) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+" "+p.Version.String())
	}
	return out
}

func TestSeriesOrder(t *testing.T) {
	ix := index(t,
		"linux-image-6.12.100+deb12-amd64 6.12.100-1~deb12u1",
		"linux-image-6.12.9+deb12-amd64 6.12.9-1~deb12u1",
		"linux-image-6.12.10+deb12-amd64 6.12.10-1",
		"linux-image-6.12.10+deb12-amd64 6.12.10-1~deb12u1",
		"linux-image-6.12.10+deb12-amd64-unsigned 6.12.10-1",
		"linux-image-6.12.10+deb12-amd64-dbg 6.12.10-1",
		"linux-image-6.12.11+deb12-amd64-unsigned 6.12.11-1",
		"linux-image-6.12.12+deb12-amd64 1:6.12.1-1",
		"linux-image-6.12.1+deb12-amd64 6.12.1-1~bpo12+1",
		"linux-image-6.12.1+deb12-amd64 6.12.1-1~bpo12",
		"linux-image-6.12-amd64 6.12.100-1~deb12u1 linux-image-6.12.100+deb12-amd64 (= 6.12.100-1~deb12u1)",
		"linux-image-6.12-amd64-signed-template 6.12.100-1~deb12u1 dpkg-dev",
	)
	tests := []struct {
		glob, since string
		want        []string
	}{
		{"linux-image-6.12*-amd64", "", []string{
			"linux-image-6.12.1+deb12-amd64 6.12.1-1~bpo12+1",
			"linux-image-6.12.9+deb12-amd64 6.12.9-1~deb12u1",
			"linux-image-6.12.10+deb12-amd64 6.12.10-1",
			"linux-image-6.12.100+deb12-amd64 6.12.100-1~deb12u1",
			"linux-image-6.12.12+deb12-amd64 1:6.12.1-1", // an epoch outranks everything
		}},
		{"linux-image-6.12*", "6.12.10", []string{
			"linux-image-6.12.10+deb12-amd64 6.12.10-1",
			"linux-image-6.12.11+deb12-amd64-unsigned 6.12.11-1", // no signed build: kept
			"linux-image-6.12.100+deb12-amd64 6.12.100-1~deb12u1",
		}},
		{"linux-image-6.12.1?+deb12-amd64", "6.12.11", nil},
	}
	for _, tt := range tests {
		got, err := ix.Series(tt.glob, tt.since)
		if tt.want == nil {
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Errorf("Series(%q, %q) error = %v, want NotFoundError", tt.glob, tt.since, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Series(%q, %q) error = %v", tt.glob, tt.since, err)
			continue
		}
		if g := names(got); !reflect.DeepEqual(g, tt.want) {
			t.Errorf("Series(%q, %q) =\n%s\nwant\n%s", tt.glob, tt.since, strings.Join(g, "\n"), strings.Join(tt.want, "\n"))
		}
	}
	if _, err := ix.Series("linux-image-[", ""); err == nil {
		t.Errorf("Series(bad glob) error = nil, want one")
	}
}

func TestSearch(t *testing.T) {
	ix := index(t,
		"linux-image-6.12.9+deb12-amd64 6.12.9-1~deb12u1",
		"linux-image-6.12.10+deb12-amd64 6.12.10-1~deb12u1",
		"linux-image-6.12.10+deb12-amd64 6.12.10-1~deb12u1",
		"linux-image-6.1.0-9-amd64 6.1.27-1",
	)
	got, err := ix.Search("linux-image-6.12.*")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"linux-image-6.12.10+deb12-amd64 6.12.10-1~deb12u1", "linux-image-6.12.9+deb12-amd64 6.12.9-1~deb12u1"}
	if g := names(got); !reflect.DeepEqual(g, want) {
		t.Errorf("Search(glob) = %q, want %q", g, want)
	}
	got, _ = ix.Search("6.1.0")
	if g := names(got); !reflect.DeepEqual(g, []string{"linux-image-6.1.0-9-amd64 6.1.27-1"}) {
		t.Errorf("Search(substring) = %q", g)
	}
}

func TestResolveMeta(t *testing.T) {
	ix := index(t,
		"linux-image-6.1.0-9-cloud-amd64 6.1.27-1 kmod, linux-base (>= 4.3~)",
		"linux-image-6.1.0-10-cloud-amd64 6.1.38-1 kmod",
		"linux-image-6.1.0-10-cloud-amd64-dbg 6.1.38-1",
		"linux-image-cloud-amd64 6.1.27-1 linux-image-6.1.0-9-cloud-amd64 (= 6.1.27-1)",
		"linux-image-cloud-amd64 6.1.38-1 linux-image-6.1.0-10-cloud-amd64-dbg (= 6.1.38-1) | linux-image-6.1.0-10-cloud-amd64 (= 6.1.38-1)",
		"linux-image-generic 6.8.0.45 linux-image-6.8.0-45-generic, linux-modules-extra-6.8.0-45-generic",
		"linux-image-6.8.0-45-generic 6.8.0-45.45 linux-modules-6.8.0-45-generic",
		"linux-image-loop-a 1 linux-image-loop-b",
		"linux-image-loop-b 1 linux-image-loop-a",
	)
	tests := []struct{ name, want string }{
		{"linux-image-cloud-amd64", "linux-image-6.1.0-10-cloud-amd64 6.1.38-1"},
		{"linux-image-6.1.0-9-cloud-amd64", "linux-image-6.1.0-9-cloud-amd64 6.1.27-1"},
		{"linux-image-generic", "linux-image-6.8.0-45-generic 6.8.0-45.45"},
	}
	for _, tt := range tests {
		p, err := ix.Resolve(tt.name)
		if err != nil {
			t.Errorf("Resolve(%s) error = %v", tt.name, err)
			continue
		}
		if got := p.Name + " " + p.Version.String(); got != tt.want {
			t.Errorf("Resolve(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
	if _, err := ix.Resolve("linux-image-loop-a"); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Resolve(cycle) error = %v, want a cycle", err)
	}
}

func TestNearest(t *testing.T) {
	ix := index(t,
		"linux-image-6.12-cloud-amd64 1",
		"linux-image-6.12-cloud-amd64-dbg 1",
		"linux-image-6.12-rt-amd64 1",
		"linux-image-6.1.0-9-cloud-amd64 1",
		"linux-image-cloud-amd64 1",
	)
	tests := []struct {
		name string
		want []string
	}{
		{"linux-image-6.12-cloud", []string{"linux-image-6.12-cloud-amd64", "linux-image-6.12-cloud-amd64-dbg", "linux-image-6.12-rt-amd64"}},
		{"linux-image-6.12-cluod-amd64", []string{"linux-image-6.12-cloud-amd64", "linux-image-6.12-rt-amd64", "linux-image-6.12-cloud-amd64-dbg"}},
		{"linux-image-clod-amd64", []string{"linux-image-cloud-amd64", "linux-image-6.12-cloud-amd64", "linux-image-6.12-rt-amd64"}},
	}
	for _, tt := range tests {
		_, err := ix.Resolve(tt.name)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("Resolve(%s) error = %v, want NotFoundError", tt.name, err)
		}
		if got := nf.Nearest[:3]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Resolve(%s) nearest = %q, want %q", tt.name, got, tt.want)
		}
		if !strings.Contains(err.Error(), "package "+tt.name+" not found; nearest: "+tt.want[0]) {
			t.Errorf("Resolve(%s) error = %q", tt.name, err)
		}
	}
}

func TestParseRelease(t *testing.T) {
	text := "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\nSHA256:\n " +
		strings.Repeat("a", 64) + " 12 main/binary-amd64/Packages\n " + strings.Repeat("B", 64) + "  3 main/binary-amd64/Packages.gz\n"
	r, err := ParseRelease([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]FileHash{
		"main/binary-amd64/Packages":    {12, strings.Repeat("a", 64)},
		"main/binary-amd64/Packages.gz": {3, strings.Repeat("b", 64)},
	}
	if !reflect.DeepEqual(r.Files, want) || r.Codename != "bookworm" || r.Date != time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC) || r.ValidUntil.IsZero() {
		t.Errorf("ParseRelease() = %+v", r)
	}
	for _, bad := range []string{"", "Suite: x\n", "Suite: x\nSHA256:\n zz 1 a\n", "Date: yesterday\nSHA256:\n " + strings.Repeat("a", 64) + " 1 x\n"} {
		if _, err := ParseRelease([]byte(bad)); err == nil {
			t.Errorf("ParseRelease(%q) error = nil, want one", bad)
		}
	}
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte("Suite: s\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n " + strings.Repeat("a", 64) + " 1 main/binary-amd64/Packages\n"))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: s\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRelease(b)
		if err != nil {
			return
		}
		for name, fh := range r.Files {
			if len(fh.SHA256) != 64 || fh.Size < 0 || name == "" {
				t.Errorf("ParseRelease(%q) file %q = %+v", b, name, fh)
			}
		}
	})
}

func FuzzVerifyInRelease(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSuite: s\n-----BEGIN PGP SIGNATURE-----\n\nwsBc\n-----END PGP SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Any input without a signature from the (empty) keyring is refused.
		if _, err := VerifyInRelease(b, nil, time.Time{}); !errors.Is(err, ErrSignature) {
			t.Errorf("VerifyInRelease(%q) error = %v, want ErrSignature", b, err)
		}
	})
}

func FuzzParsePackages(f *testing.F) {
	f.Add([]byte("Package: linux-image-1\nVersion: 1.0-1~deb12u1\nDepends: a (>= 1) | b, c\nFilename: pool/a.deb\nSize: 10\nSHA256: " + strings.Repeat("a", 64) + "\n\nPackage: hello\nVersion: 2\n"))
	f.Add([]byte("Package: x\n Description continued\n\n\n\nPackage: y\nVersion: :\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		all, err := ParsePackages(bytes.NewReader(b), nil)
		if err != nil {
			return
		}
		for _, p := range all {
			if p.Name == "" {
				t.Errorf("ParsePackages(%q) gave a package without a name", b)
			}
		}
		// Selecting by name never invents packages.
		some, err := ParsePackages(bytes.NewReader(b), KeepKernelImages)
		if err != nil {
			return
		}
		if len(some) > len(all) {
			t.Errorf("ParsePackages(%q, filter) = %d packages, more than %d without", b, len(some), len(all))
		}
	})
}
