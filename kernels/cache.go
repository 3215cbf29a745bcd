package kernels

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/atomicfile"
)

// The kernel cache, under a Resolver's CacheDir:
//
//	debs/SHA256.deb       downloaded packages, only ever written verified
//	debs/SHA256.json      what each one is (CacheEntry)
//	files/SHA256.vmlinuz  kernel images fetched by URL
//	extracted/SHA256/     FromDeb's extraction of a .deb (of the packages'
//	                      SHA256s, for a kernel split over several)
//	build/src/            source trees exported from git or tarballs
//	build/obj/            object directories, one per tree
//	build/kernels/KEY/    built kernels, by tree and final config
//	build/logs/NAME.log   the last build log of each kernel name
//	indexes/              verified archive indexes (package kernels/apt)
const (
	debsDir      = "debs"
	filesDir     = "files"
	extractedDir = "extracted"
)

// CacheEntry is one downloaded file of the cache.
type CacheEntry struct {
	SHA256  string    `json:"sha256"`
	Path    string    `json:"-"`
	Package string    `json:"package,omitempty"`
	Version string    `json:"version,omitempty"`
	URL     string    `json:"url"`
	Size    int64     `json:"size"`
	Fetched time.Time `json:"fetched"`
	// Extracted says whether the .deb's extraction is cached too.
	Extracted bool `json:"-"`
}

func writeEntry(path string, e CacheEntry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}

// List returns the downloaded files of the cache, sorted by package and
// version (files without a package last, by URL).
func (r *Resolver) List() ([]CacheEntry, error) {
	var out []CacheEntry
	for _, sub := range []string{debsDir, filesDir} {
		dir := filepath.Join(r.CacheDir, sub)
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		for _, de := range ents {
			name := de.Name()
			if de.IsDir() || strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".part") || strings.HasPrefix(name, ".") {
				continue
			}
			sum, _, _ := strings.Cut(name, ".")
			e := CacheEntry{SHA256: sum, Path: filepath.Join(dir, name)}
			if b, err := os.ReadFile(filepath.Join(dir, sum+".json")); err == nil {
				_ = json.Unmarshal(b, &e) // an unreadable note leaves the entry anonymous
				e.SHA256, e.Path = sum, filepath.Join(dir, name)
			}
			if fi, err := de.Info(); err == nil {
				e.Size = fi.Size()
			}
			if _, err := os.Stat(filepath.Join(r.CacheDir, extractedDir, sum)); err == nil {
				e.Extracted = true
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Package == "") != (b.Package == "") {
			return a.Package != ""
		}
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.URL < b.URL
	})
	return out, nil
}

// Prune removes every cached download, and its extraction, that no keep
// argument names; an argument names an entry by SHA256 (or a prefix of at
// least 12 digits), package name, or PACKAGE=VERSION. It returns what it
// removed.
func (r *Resolver) Prune(keep ...string) ([]CacheEntry, error) {
	ents, err := r.List()
	if err != nil {
		return nil, err
	}
	var removed []CacheEntry
	for _, e := range ents {
		if keeps(e, keep) {
			continue
		}
		// The extraction goes first: a .deb without it is re-extracted, an
		// extraction without its .deb is an orphan nobody lists.
		if err := os.RemoveAll(filepath.Join(r.CacheDir, extractedDir, e.SHA256)); err != nil {
			return removed, fmt.Errorf("prune: %w", err)
		}
		if err := os.Remove(e.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("prune: %w", err)
		}
		dir := filepath.Dir(e.Path)
		os.Remove(filepath.Join(dir, e.SHA256+".json"))
		os.Remove(e.Path + ".lock")
		removed = append(removed, e)
	}
	// A split kernel's extraction goes with any of its packages.
	gone := map[string]bool{}
	for _, e := range removed {
		gone[e.SHA256] = true
	}
	dirs, _ := filepath.Glob(filepath.Join(r.CacheDir, extractedDir, "*", metaFile))
	for _, m := range dirs {
		meta, err := readMeta(filepath.Dir(m))
		if err != nil {
			continue
		}
		for _, d := range meta.Debs {
			if gone[d] {
				if err := os.RemoveAll(filepath.Dir(m)); err != nil {
					return removed, fmt.Errorf("prune: %w", err)
				}
				break
			}
		}
	}
	return removed, nil
}

func keeps(e CacheEntry, keep []string) bool {
	for _, k := range keep {
		switch {
		case k == "":
		case k == e.Package, e.Package != "" && k == e.Package+"="+e.Version:
			return true
		case len(k) >= 12 && strings.HasPrefix(e.SHA256, strings.ToLower(k)):
			return true
		}
	}
	return false
}
