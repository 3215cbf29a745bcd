// Package apttest serves signed Debian-style archives from memory for tests:
// a fresh OpenPGP key, InRelease files that list Packages indexes with their
// SHA256, and the .deb files themselves, with hooks to tamper with any of
// them or cut transfers short.
package apttest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ulikunitz/xz"
)

// Pkg is a package to publish. Filename defaults to
// pool/main/l/NAME_VERSION_amd64.deb.
type Pkg struct {
	Name, Version, Depends string
	Deb                    []byte
	Filename               string
}

// Archive is an archive served over HTTP.
type Archive struct {
	URL         string // archive root
	Key         *openpgp.Entity
	KeyringPath string // the public key as a binary keyring file
	// ValidUntil, when set, is written into the next InRelease files.
	ValidUntil time.Time

	srv      *httptest.Server
	mu       sync.Mutex
	files    map[string][]byte // path under the root -> content
	hits     map[string]int
	ranges   map[string][]string
	truncate map[string]int // path -> how many more responses to cut short
}

// New starts an archive with a fresh signing key; it stops with the test.
func New(t testing.TB) *Archive {
	t.Helper()
	key := NewKey(t)
	a := &Archive{Key: key, files: map[string][]byte{}, hits: map[string]int{}, ranges: map[string][]string{}, truncate: map[string]int{}}
	a.KeyringPath = WriteKeyring(t, key)
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	a.URL = a.srv.URL + "/debian"
	return a
}

// NewKey generates a signing key.
func NewKey(t testing.TB) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("kvet test archive", "", "archive@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// WriteKeyring writes the public part of key to a keyring file.
func WriteKeyring(t testing.TB, key *openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	if err := key.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "archive-keyring.gpg")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Publish writes suite's Packages index (plain, .gz and .xz) for pkgs, their
// .debs, and an InRelease signed with the archive's key.
func (a *Archive) Publish(t testing.TB, suite string, pkgs []Pkg) {
	t.Helper()
	var idx bytes.Buffer
	for _, p := range pkgs {
		fn := p.Filename
		if fn == "" {
			fn = fmt.Sprintf("pool/main/l/%s_%s_amd64.deb", p.Name, strings.ReplaceAll(p.Version, ":", "%3a"))
		}
		sum := sha256.Sum256(p.Deb)
		fmt.Fprintf(&idx, "Package: %s\nVersion: %s\nArchitecture: amd64\n", p.Name, p.Version)
		if p.Depends != "" {
			fmt.Fprintf(&idx, "Depends: %s\n", p.Depends)
		}
		fmt.Fprintf(&idx, "Filename: %s\nSize: %d\nSHA256: %s\nDescription: test package\n multi-line\n\n", fn, len(p.Deb), hex.EncodeToString(sum[:]))
		a.Set(fn, p.Deb)
	}
	plain := idx.Bytes()
	var gz, xzb bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(plain)
	xw.Close()
	files := map[string][]byte{
		"main/binary-amd64/Packages":    plain,
		"main/binary-amd64/Packages.gz": gz.Bytes(),
		"main/binary-amd64/Packages.xz": xzb.Bytes(),
	}
	var rel bytes.Buffer
	fmt.Fprintf(&rel, "Origin: Test\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n",
		suite, suite, time.Now().UTC().Format(time.RFC1123))
	if !a.ValidUntil.IsZero() {
		// Before SHA256: the field list continues to the paragraph's end.
		b := rel.Bytes()
		rel.Reset()
		rel.Write(bytes.TrimSuffix(b, []byte("SHA256:\n")))
		fmt.Fprintf(&rel, "Valid-Until: %s\nSHA256:\n", a.ValidUntil.UTC().Format(time.RFC1123))
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := sha256.Sum256(files[n])
		fmt.Fprintf(&rel, " %s %8d %s\n", hex.EncodeToString(s[:]), len(files[n]), n)
		a.Set("dists/"+suite+"/"+n, files[n])
	}
	a.Set("dists/"+suite+"/InRelease", Sign(t, a.Key, rel.Bytes()))
}

// Sign clear-signs text with key.
func Sign(t testing.TB, key *openpgp.Entity, text []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, key.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(text)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Set replaces the file at path (relative to the archive root).
func (a *Archive) Set(path string, data []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] = data
}

// Get returns the file at path.
func (a *Archive) Get(path string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.files[path]
}

// Hits counts the GET requests for path.
func (a *Archive) Hits(path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hits[path]
}

// Ranges returns the Range header of each request for path ("" for none).
func (a *Archive) Ranges(path string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ranges[path]...)
}

// Truncate makes the next n responses for path stop after half the body,
// with the full length announced.
func (a *Archive) Truncate(path string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.truncate[path] = n
}

// Close stops serving: the archive becomes unreachable.
func (a *Archive) Close() { a.srv.Close() }

func (a *Archive) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/debian/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	a.mu.Lock()
	data, found := a.files[path]
	a.hits[path]++
	a.ranges[path] = append(a.ranges[path], r.Header.Get("Range"))
	cut := a.truncate[path] > 0
	if cut {
		a.truncate[path]--
	}
	a.mu.Unlock()
	if !found {
		http.NotFound(w, r)
		return
	}
	if cut {
		// Announce everything, send half, and drop the connection.
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &start)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
			w.Header().Set("Content-Length", fmt.Sprint(len(data)-start))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(http.StatusOK)
		}
		rest := data[start:]
		w.Write(rest[:len(rest)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, path, time.Time{}, bytes.NewReader(data))
}
