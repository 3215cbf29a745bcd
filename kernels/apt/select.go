package apt

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"pault.ag/go/debian/version"
)

// NotFoundError is a package name absent from the index; Nearest holds the
// closest names that exist.
type NotFoundError struct {
	Name    string
	Nearest []string
}

func (e *NotFoundError) Error() string {
	if len(e.Nearest) == 0 {
		return fmt.Sprintf("package %s not found", e.Name)
	}
	return fmt.Sprintf("package %s not found; nearest: %s", e.Name, strings.Join(e.Nearest, ", "))
}

// Newest returns the newest version of the package called name.
func (ix *Index) Newest(name string) (Package, bool) {
	var best Package
	found := false
	for _, p := range ix.Packages {
		if p.Name == name && (!found || version.Compare(p.Version, best.Version) > 0) {
			best, found = p, true
		}
	}
	return best, found
}

// Exact returns the package called name at version v (a Debian version
// string).
func (ix *Index) Exact(name, v string) (Package, bool) {
	pv, err := version.Parse(v)
	if err != nil {
		return Package{}, false
	}
	return ix.exact(name, pv)
}

func (ix *Index) exact(name string, v version.Version) (Package, bool) {
	for _, p := range ix.Packages {
		if p.Name == name && version.Compare(p.Version, v) == 0 {
			return p, true
		}
	}
	return Package{}, false
}

// kernelDeps returns the linux-image-* packages that p depends on and that
// the index holds: a meta-package has some, a kernel package none.
func (ix *Index) kernelDeps(p Package) []Package {
	var out []Package
	for _, rel := range p.Depends.Relations {
		var alts []Package
		for _, poss := range rel.Possibilities {
			if !strings.HasPrefix(poss.Name, "linux-image-") {
				continue
			}
			var cand Package
			var ok bool
			if poss.Version != nil && poss.Version.Operator == "=" {
				if v, err := version.Parse(poss.Version.Number); err == nil {
					cand, ok = ix.exact(poss.Name, v)
				}
			}
			if !ok {
				cand, ok = ix.Newest(poss.Name)
			}
			if ok {
				alts = append(alts, cand)
			}
		}
		// Of alternatives, prefer the signed image to -unsigned and -dbg.
		sort.SliceStable(alts, func(i, j int) bool { return rank(alts[i].Name) < rank(alts[j].Name) })
		if len(alts) > 0 {
			out = append(out, alts[0])
		}
	}
	return out
}

func rank(name string) int {
	switch {
	case strings.HasSuffix(name, "-dbg"):
		return 2
	case strings.HasSuffix(name, "-unsigned"):
		return 1
	}
	return 0
}

// IsMeta says whether p is a meta-package pointing at another kernel image.
func (ix *Index) IsMeta(p Package) bool { return len(ix.kernelDeps(p)) > 0 }

// Resolve returns the concrete kernel package a name stands for: the newest
// version of a concrete package, or what a meta-package's Depends lead to.
func (ix *Index) Resolve(name string) (Package, error) {
	p, ok := ix.Newest(name)
	if !ok {
		return Package{}, &NotFoundError{Name: name, Nearest: ix.Nearest(name, 5)}
	}
	seen := map[string]bool{}
	for {
		if seen[p.Name] {
			return Package{}, fmt.Errorf("package %s: dependency cycle through %s", name, p.Name)
		}
		seen[p.Name] = true
		deps := ix.kernelDeps(p)
		if len(deps) == 0 {
			return p, nil
		}
		sort.SliceStable(deps, func(i, j int) bool { return rank(deps[i].Name) < rank(deps[j].Name) })
		p = deps[0]
	}
}

// Series returns the newest version of every concrete kernel package whose
// name matches glob (path.Match syntax), oldest first in Debian version
// order, dropping those whose upstream version is below since ("" keeps
// all). -dbg packages are left out, and -unsigned ones when the signed
// package exists.
func (ix *Index) Series(glob, since string) ([]Package, error) {
	if _, err := path.Match(glob, ""); err != nil {
		return nil, fmt.Errorf("series %q: %w", glob, err)
	}
	var min version.Version
	if since != "" {
		v, err := version.Parse(since)
		if err != nil {
			return nil, fmt.Errorf("since %q: %w", since, err)
		}
		min = version.Version{Version: v.Version}
	}
	names := map[string]bool{}
	for _, p := range ix.Packages {
		if ok, _ := path.Match(glob, p.Name); ok {
			names[p.Name] = true
		}
	}
	var out []Package
	for n := range names {
		if strings.HasSuffix(n, "-dbg") || strings.HasSuffix(n, "-signed-template") {
			continue
		}
		if base, ok := strings.CutSuffix(n, "-unsigned"); ok {
			if _, signed := ix.Newest(base); signed {
				continue
			}
		}
		p, _ := ix.Newest(n)
		if ix.IsMeta(p) {
			continue
		}
		if since != "" && version.Compare(version.Version{Version: p.Version.Version}, min) < 0 {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, &NotFoundError{Name: glob, Nearest: ix.Nearest(glob, 5)}
	}
	sortOldestFirst(out)
	return out, nil
}

func sortOldestFirst(ps []Package) {
	sort.SliceStable(ps, func(i, j int) bool {
		if c := version.Compare(ps[i].Version, ps[j].Version); c != 0 {
			return c < 0
		}
		return ps[i].Name < ps[j].Name
	})
}

// Search returns every package (each version once) whose name matches
// pattern, a glob or, without glob characters, a substring; newest first.
// The packages a split kernel is made of (linux-modules-REL, ...) are left
// out unless the pattern starts with their prefix.
func (ix *Index) Search(pattern string) ([]Package, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("search %q: %w", pattern, err)
	}
	glob := strings.ContainsAny(pattern, "*?[")
	members := isMemberName(pattern)
	seen := map[string]bool{}
	var out []Package
	for _, p := range ix.Packages {
		if !members && isMemberName(p.Name) {
			continue
		}
		var ok bool
		if glob {
			ok, _ = path.Match(pattern, p.Name)
		} else {
			ok = strings.Contains(p.Name, pattern)
		}
		key := p.Name + " " + p.Version.String()
		if ok && !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := version.Compare(out[i].Version, out[j].Version); c != 0 {
			return c > 0
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Nearest returns up to n package names closest to name: smallest edit
// distance first, then longest common prefix; names containing name (or
// contained in it) come before all others.
func (ix *Index) Nearest(name string, n int) []string {
	type cand struct {
		name         string
		dist, prefix int
		contains     bool // one name holds the other: a likely completion
	}
	seen := map[string]bool{}
	var cs []cand
	for _, p := range ix.Packages {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		cs = append(cs, cand{p.Name, editDistance(name, p.Name), commonPrefix(name, p.Name),
			strings.Contains(p.Name, name) || strings.Contains(name, p.Name)})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].contains != cs[j].contains {
			return cs[i].contains
		}
		if cs[i].dist != cs[j].dist {
			return cs[i].dist < cs[j].dist
		}
		if cs[i].prefix != cs[j].prefix {
			return cs[i].prefix > cs[j].prefix
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// editDistance is the Levenshtein distance over bytes (names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Members returns the packages a concrete kernel package is made of: p
// itself, then the packages of the same version it depends on, directly or
// through each other, whose names say they carry a kernel's image, modules
// or config (Debian's linux-binary-REL, linux-modules-REL and
// linux-base-REL from 7.x on; Ubuntu's linux-modules-REL), and Ubuntu's
// linux-modules-extra-REL, which depends on the image rather than the
// other way round. A kernel in one package is its only member. A member
// that p depends on and the index lacks is an error: the kernel would be
// incomplete.
func (ix *Index) Members(p Package) ([]Package, error) {
	out := []Package{p}
	seen := map[string]bool{p.Name: true}
	for i := 0; i < len(out); i++ {
		for _, rel := range out[i].Depends.Relations {
			for _, poss := range rel.Possibilities {
				if seen[poss.Name] || !isMemberName(poss.Name) {
					continue
				}
				m, ok := ix.exact(poss.Name, p.Version)
				if !ok {
					if poss.Version == nil || poss.Version.Operator != "=" {
						continue // another version's package: not this kernel's
					}
					return nil, fmt.Errorf("package %s %s: depends on %s (= %s), which the index lacks", p.Name, p.Version, poss.Name, poss.Version.Number)
				}
				seen[m.Name] = true
				out = append(out, m)
				break
			}
		}
	}
	if rel, ok := strings.CutPrefix(strings.TrimSuffix(p.Name, "-unsigned"), "linux-image-"); ok {
		rel = strings.TrimPrefix(rel, "unsigned-")
		extra := "linux-modules-extra-" + rel
		if m, ok := ix.exact(extra, p.Version); ok && !seen[extra] {
			out = append(out, m)
		}
	}
	return out, nil
}

func isMemberName(name string) bool {
	for _, pre := range memberPrefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}
