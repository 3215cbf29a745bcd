package kernels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kvet/kvet/kernels/apt"
)

// Resolver turns Specs into Kernels: it reads the archive indexes, resolves
// package names, downloads and verifies .debs and URLs into the cache, and
// extracts them. Its zero value, with CacheDir set, uses the host's apt
// sources. A Resolver remembers the archive index it read; use one per run.
type Resolver struct {
	CacheDir string
	// Archive overrides the host's apt sources when Mirror is set.
	Archive Archive
	Logger  *slog.Logger // nil: no log lines
	// Progress receives a progress display of downloads when Terminal is
	// set; otherwise downloads are reported as log lines.
	Progress io.Writer
	Terminal bool
	HTTP     *http.Client // nil: http.DefaultClient
	// SourcesDir is where apt sources and trusted keys are read; default
	// /etc/apt.
	SourcesDir string

	mu       sync.Mutex
	indexes  map[string]*apt.Index // by Archive.key
	resolved map[string]*Kernel    // by matrix name, for config: {from: NAME}
	// checkTools checks the host can build kernels; nil: checkBuildTools.
	checkTools func() error
}

// PackageVersion is one version of a package in the archive.
type PackageVersion struct {
	Package string
	Version string
	Suite   string
	Archive string
	URL     string
	Size    int64
	SHA256  string
	// Resolved is the concrete kernel package a meta-package stands for
	// ("" for a concrete package).
	Resolved *PackageVersion `json:",omitempty"`
	Cached   bool            // the .deb is in the cache
}

// ErrNoSources means neither the host's apt sources nor a mirror say where
// packages come from.
var ErrNoSources = apt.ErrNoSources

// Resolve returns the kernels a spec names: one, or for a series every
// matching version, oldest first. Each Kernel has Name, Source, Package and
// Version filled (Package and Version empty for a vmlinuz).
func (r *Resolver) Resolve(ctx context.Context, s Spec) ([]*Kernel, error) {
	ks, err := r.resolve(ctx, s)
	if err == nil {
		r.remember(ks)
	}
	return ks, err
}

func (r *Resolver) resolve(ctx context.Context, s Spec) ([]*Kernel, error) {
	switch {
	case s.Source != "":
		k, info, err := r.Build(ctx, s)
		if err != nil {
			return nil, err
		}
		if r.Logger != nil {
			r.Logger.Info("kernel built", "kernel", s.Name, "release", k.Release, "tree", info.Tree, "cached", info.Cached,
				"took", info.Took.Round(time.Second).String(), "added", strings.Join(info.Added, " "), "log", info.Log)
			if len(info.Missing) > 0 {
				r.Logger.Warn("the guest's options are not in the final config", "kernel", s.Name, "missing", strings.Join(info.Missing, " "))
			}
		}
		k.Name, k.Source = s.Name, s.Source
		return []*Kernel{k}, nil
	case s.Package != "":
		ix, err := r.IndexFor(ctx, s.Archive)
		if err != nil {
			return nil, err
		}
		p, err := ix.Resolve(s.Package)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
		}
		if s.SHA256 != "" && !strings.EqualFold(s.SHA256, p.SHA256) {
			return nil, fmt.Errorf("kernel %s: %s %s has sha256 %s, the matrix pins %s", s.Name, p.Name, p.Version, p.SHA256, s.SHA256)
		}
		k, err := r.fromPackage(ctx, ix, p)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
		}
		k.Name, k.Source = s.Name, s.Package
		if s.Suite != "" {
			k.Source += "/" + s.Suite // as apt names a package of a suite
		}
		return []*Kernel{k}, nil
	case s.Series != "":
		ix, err := r.IndexFor(ctx, s.Archive)
		if err != nil {
			return nil, err
		}
		ps, err := ix.Series(s.Series, s.Since)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
		}
		names := seriesNames(s.Name, ps)
		var out []*Kernel
		for i, p := range ps {
			k, err := r.fromPackage(ctx, ix, p)
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %w", names[i], err)
			}
			k.Name, k.Source = names[i], s.Series
			out = append(out, k)
		}
		return out, nil
	case s.Deb != "":
		path := s.Deb
		if isURL(s.Deb) {
			if s.SHA256 == "" {
				return nil, fmt.Errorf("kernel %s: deb %s: a URL needs sha256:", s.Name, s.Deb)
			}
			var err error
			path, err = r.fetchURL(ctx, s.Deb, s.SHA256, debsDir, ".deb")
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
			}
		} else if s.SHA256 != "" {
			if err := checkFileSHA256(path, s.SHA256); err != nil {
				return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
			}
		}
		k, err := FromDeb(ctx, path, r.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
		}
		k.Name, k.Source = s.Name, s.Deb
		return []*Kernel{k}, nil
	case s.Vmlinuz != "":
		path := s.Vmlinuz
		if isURL(s.Modules) || isURL(s.Config.Value) || s.Config.From != "" {
			return nil, fmt.Errorf("kernel %s: modules: and config: must be local paths", s.Name)
		}
		if isURL(s.Vmlinuz) {
			if s.SHA256 == "" {
				return nil, fmt.Errorf("kernel %s: vmlinuz %s: a URL needs sha256:", s.Name, s.Vmlinuz)
			}
			var err error
			path, err = r.fetchURL(ctx, s.Vmlinuz, s.SHA256, filesDir, ".vmlinuz")
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
			}
		} else if s.SHA256 != "" {
			if err := checkFileSHA256(path, s.SHA256); err != nil {
				return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
			}
		}
		k, err := FromFiles(path, s.Modules, s.Config.Value)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
		}
		k.Name, k.Source = s.Name, s.Vmlinuz
		return []*Kernel{k}, nil
	}
	return nil, fmt.Errorf("kernel %s: no package:, series:, deb:, vmlinuz: or source:", s.Name)
}

// Lookup resolves a package or series spec against the archive index
// without downloading anything.
func (r *Resolver) Lookup(ctx context.Context, s Spec) ([]PackageVersion, error) {
	ix, err := r.IndexFor(ctx, s.Archive)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Package != "":
		p, err := ix.Resolve(s.Package)
		if err != nil {
			return nil, err
		}
		return []PackageVersion{r.packageVersion(p)}, nil
	case s.Series != "":
		ps, err := ix.Series(s.Series, s.Since)
		if err != nil {
			return nil, err
		}
		out := make([]PackageVersion, len(ps))
		for i, p := range ps {
			out[i] = r.packageVersion(p)
		}
		return out, nil
	}
	return nil, fmt.Errorf("kernel %s: lookup needs package: or series:", s.Name)
}

// Search lists the packages whose names match pattern (a glob, or a
// substring), newest first; meta-packages carry what they resolve to.
func (r *Resolver) Search(ctx context.Context, pattern string) ([]PackageVersion, error) {
	ix, err := r.Index(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := ix.Search(pattern)
	if err != nil {
		return nil, err
	}
	out := make([]PackageVersion, 0, len(ps))
	for _, p := range ps {
		pv := r.packageVersion(p)
		if ix.IsMeta(p) {
			if c, err := ix.Resolve(p.Name); err == nil {
				cv := r.packageVersion(c)
				pv.Resolved = &cv
			}
		}
		out = append(out, pv)
	}
	return out, nil
}

// Fetch downloads (or finds in the cache) a package's .deb and returns its
// path, without extracting it.
func (r *Resolver) Fetch(ctx context.Context, pv PackageVersion) (string, error) {
	f := r.fetcher(debsDir)
	path, err := f.Fetch(ctx, pv.URL, pv.SHA256, pv.Size, ".deb", pv.Package+" "+pv.Version)
	if err != nil {
		return "", err
	}
	note := filepath.Join(r.CacheDir, debsDir, strings.ToLower(pv.SHA256)+".json")
	if _, err := os.Stat(note); err != nil {
		e := CacheEntry{SHA256: strings.ToLower(pv.SHA256), Package: pv.Package, Version: pv.Version, URL: pv.URL, Size: pv.Size, Fetched: time.Now().UTC()}
		if err := writeEntry(note, e); err != nil {
			r.warn("cache note not written", "err", err)
		}
	}
	return path, nil
}

// FetchKernel downloads (or finds in the cache) the .debs a concrete kernel
// package is made of: its own, then those of the packages it is split over
// (see apt.Index.Members); without extracting them.
func (r *Resolver) FetchKernel(ctx context.Context, pv PackageVersion) ([]string, error) {
	r.mu.Lock()
	var ixs []*apt.Index
	for _, ix := range r.indexes {
		ixs = append(ixs, ix)
	}
	r.mu.Unlock()
	for _, ix := range ixs {
		if p, ok := ix.Exact(pv.Package, pv.Version); ok && p.SHA256 == pv.SHA256 {
			return r.fetchMembers(ctx, ix, p)
		}
	}
	return nil, fmt.Errorf("package %s %s: in no index read (look it up first)", pv.Package, pv.Version)
}

func (r *Resolver) fetchMembers(ctx context.Context, ix *apt.Index, p apt.Package) ([]string, error) {
	members, err := ix.Members(p)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, m := range members {
		path, err := r.Fetch(ctx, r.packageVersion(m))
		if err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// Index returns the index of the Resolver's archive, reading it on first
// use.
func (r *Resolver) Index(ctx context.Context) (*apt.Index, error) {
	return r.IndexFor(ctx, Archive{})
}

// IndexFor returns the index of a kernel's archive: a over the Resolver's
// (see Archive.Over), read once per archive.
func (r *Resolver) IndexFor(ctx context.Context, a Archive) (*apt.Index, error) {
	a = r.Archive.Over(a)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ix := r.indexes[a.key()]; ix != nil {
		return ix, nil
	}
	srcs, err := r.sources(a)
	if err != nil {
		return nil, err
	}
	c := &apt.Client{CacheDir: r.CacheDir, HTTP: r.HTTP, Logger: r.Logger, AptDir: r.sourcesDir()}
	if a.Keyring != "" {
		if c.Keyring, err = apt.LoadKeyrings(a.Keyring); err != nil {
			return nil, err
		}
	}
	var ix *apt.Index
	if a.Mirror == "" && a.Suite != "" {
		ix, err = r.hostSuite(ctx, c, a.Suite, srcs)
	} else {
		ix, err = c.Index(ctx, srcs)
	}
	if err != nil {
		return nil, err
	}
	if r.indexes == nil {
		r.indexes = map[string]*apt.Index{}
	}
	r.indexes[a.key()] = ix
	return ix, nil
}

// hostSuite reads suites from each of the host's archive URIs that serves
// them: one that lacks them (no InRelease) or cannot be reached is passed
// over, unless none serves them.
func (r *Resolver) hostSuite(ctx context.Context, c *apt.Client, suite string, srcs []apt.Source) (*apt.Index, error) {
	ix := &apt.Index{}
	var misses []string
	served := 0
	for _, src := range srcs {
		got, err := c.Index(ctx, []apt.Source{src})
		var he *apt.HTTPError
		var ue *apt.UnreachableError
		switch {
		case err == nil:
			served++
			ix.Packages = append(ix.Packages, got.Packages...)
			ix.Stale = append(ix.Stale, got.Stale...)
		case ctx.Err() != nil:
			return nil, err
		case errors.As(err, &he) && he.Status == http.StatusNotFound, errors.As(err, &ue):
			misses = append(misses, fmt.Sprintf("%s: %v", src.URI, err))
		default:
			return nil, err
		}
	}
	if served == 0 {
		return nil, fmt.Errorf("suite %s: none of the host's archives serves it (%s); set mirror: too", suite, strings.Join(misses, "; "))
	}
	return ix, nil
}

// sources returns where a's packages come from: its mirror, or the host's
// apt sources (each distinct URI with a's suites when a names suites).
func (r *Resolver) sources(a Archive) ([]apt.Source, error) {
	suites := strings.Fields(a.Suite)
	if a.Mirror != "" {
		if len(suites) == 0 {
			return nil, fmt.Errorf("mirror %s: no suite; set suite: in the matrix or --suite", a.Mirror)
		}
		return []apt.Source{{URI: strings.TrimSuffix(a.Mirror, "/"), Suites: suites, Components: []string{"main"}, Origin: "mirror " + a.Mirror}}, nil
	}
	srcs, err := apt.ReadSources(r.sourcesDir())
	if errors.Is(err, apt.ErrNoSources) {
		return nil, fmt.Errorf("%w found in %s; set mirror: and suite: in the matrix or --mirror/--suite", apt.ErrNoSources, r.sourcesDir())
	}
	if err != nil || len(suites) == 0 {
		return srcs, err
	}
	var out []apt.Source
	seen := map[string]bool{}
	for _, s := range srcs {
		uri := strings.TrimSuffix(s.URI, "/")
		if seen[uri] {
			continue
		}
		seen[uri] = true
		s.URI, s.Suites = uri, suites
		out = append(out, s)
	}
	return out, nil
}

// fromPackage fetches a concrete kernel package and the packages it is
// split over (each verified against the signed index), and extracts them
// as one kernel.
func (r *Resolver) fromPackage(ctx context.Context, ix *apt.Index, p apt.Package) (*Kernel, error) {
	paths, err := r.fetchMembers(ctx, ix, p)
	if err != nil {
		return nil, err
	}
	k, err := FromDebs(ctx, paths, r.CacheDir)
	if err != nil {
		return nil, err
	}
	members, _ := ix.Members(p) // the same answer fetchMembers had
	for _, m := range members[1:] {
		k.Members = append(k.Members, m.Name)
	}
	// The archive's names are the ones results record.
	k.Package, k.Version = p.Name, p.Version.String()
	return k, nil
}

func (r *Resolver) packageVersion(p apt.Package) PackageVersion {
	pv := PackageVersion{
		Package: p.Name, Version: p.Version.String(), Suite: p.Suite, Archive: p.Archive,
		URL: p.URL(), Size: p.Size, SHA256: p.SHA256,
	}
	if _, err := os.Stat(filepath.Join(r.CacheDir, debsDir, p.SHA256+".deb")); err == nil {
		pv.Cached = true
	}
	return pv
}

func (r *Resolver) fetchURL(ctx context.Context, url, sum, sub, ext string) (string, error) {
	path, err := r.fetcher(sub).Fetch(ctx, url, sum, 0, ext, url)
	if err != nil {
		return "", err
	}
	note := filepath.Join(r.CacheDir, sub, strings.ToLower(sum)+".json")
	if _, err := os.Stat(note); err != nil {
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		if err := writeEntry(note, CacheEntry{SHA256: strings.ToLower(sum), URL: url, Size: size, Fetched: time.Now().UTC()}); err != nil {
			r.warn("cache note not written", "err", err)
		}
	}
	return path, nil
}

func (r *Resolver) fetcher(sub string) *apt.Fetcher {
	return &apt.Fetcher{
		Dir: filepath.Join(r.CacheDir, sub), HTTP: r.HTTP, Logger: r.Logger,
		Progress: r.Progress, Terminal: r.Terminal,
	}
}

func (r *Resolver) sourcesDir() string {
	if r.SourcesDir != "" {
		return r.SourcesDir
	}
	return "/etc/apt"
}

func (r *Resolver) warn(msg string, args ...any) {
	if r.Logger != nil {
		r.Logger.Warn(msg, args...)
	}
}

// seriesNames names each kernel of a series NAME@UPSTREAM-VERSION, or
// NAME@FULL-VERSION where two share an upstream version.
func seriesNames(name string, ps []apt.Package) []string {
	count := map[string]int{}
	for _, p := range ps {
		count[p.Version.Version]++
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		v := p.Version.Version
		if count[v] > 1 {
			v = p.Version.String()
		}
		out[i] = name + "@" + v
	}
	return out
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func checkFileSHA256(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("%s: sha256 mismatch: got %s, want %s", path, got, strings.ToLower(want))
	}
	return nil
}
