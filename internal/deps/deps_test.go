package deps

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/kvet/kvet"

// forbidden: packages below from must not depend on packages below to,
// directly or through another package. "" is the whole module; "std:X" is
// the standard library's package X. Tests may import more (a runner test
// boots a real kernel, so it fetches one) unless tests is set.
var forbidden = []struct {
	from, to, why string
	tests         bool
}{
	{from: "", to: "cmd", why: "nothing imports a command", tests: true},
	{from: "results", to: "runner", why: "results are a schema and statistics, not the machinery that boots"},
	{from: "scenarios", to: "runner", why: "scenarios run in the guest and know nothing of QEMU"},
	{from: "guest", to: "runner", why: "the guest knows nothing of QEMU"},
	{from: "runner", to: "internal/matrix", why: "runner boots what it is given"},
	{from: "runner", to: "kernels", why: "runner boots what it is given"},
	{from: "runner", to: "images", why: "runner boots what it is given"},
	{from: "internal/wire", to: "", why: "the host-guest contract stands on the standard library alone"},
	{from: "pipeline", to: "std:flag", why: "the run package takes options, it does not parse flags"},
}

// pkg is one package of the module: what its code imports, and what its
// tests import besides.
type pkg struct{ imports, testImports []string }

// packages reads the module's packages. Imports are module paths relative
// to the module ("" for its root) or "std:X".
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rel := func(imp string) string {
		switch {
		case imp == module:
			return ""
		case strings.HasPrefix(imp, module+"/"):
			return strings.TrimPrefix(imp, module+"/")
		case !strings.Contains(strings.Split(imp, "/")[0], "."):
			return "std:" + imp
		}
		return "ext:" + imp
	}
	out := map[string]pkg{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(path, 0)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		}
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(root, path)
		var p pkg
		for _, imp := range bp.Imports {
			p.imports = append(p.imports, rel(imp))
		}
		for _, imp := range append(bp.TestImports, bp.XTestImports...) {
			p.testImports = append(p.testImports, rel(imp))
		}
		out[filepath.ToSlash(name)] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// below reports whether p is the package prefix or one under it.
func below(p, prefix string) bool {
	return prefix == "" && !strings.HasPrefix(p, "std:") && !strings.HasPrefix(p, "ext:") ||
		p == prefix || strings.HasPrefix(p, prefix+"/")
}

// deps returns what p's code depends on, each with the chain of imports
// that gets there, and what its tests import directly.
func deps(all map[string]pkg, p string) map[string]string {
	seen := map[string]string{}
	var walk func(q, chain string)
	walk = func(q, chain string) {
		for _, d := range all[q].imports {
			if _, ok := seen[d]; !ok {
				seen[d] = chain + " -> " + d
				walk(d, seen[d])
			}
		}
	}
	walk(p, p)
	for _, d := range all[p].testImports {
		if _, ok := seen[d]; !ok {
			seen[d] = p + " (tests) -> " + d
		}
	}
	return seen
}

func TestForbiddenImports(t *testing.T) {
	all := packages(t)
	for _, want := range []string{"cmd/kvet", "runner", "results", "internal/wire"} {
		if _, ok := all[want]; !ok {
			t.Fatalf("packages() found no %s among %d packages", want, len(all))
		}
	}
	for p := range all {
		reached := deps(all, p)
		for _, r := range forbidden {
			if !below(p, r.from) {
				continue
			}
			for d, chain := range reached {
				if below(d, p) {
					continue // a package may import its own subpackages
				}
				if below(d, r.to) && (r.tests || !strings.Contains(chain, "(tests)")) {
					t.Errorf("%s depends on %s (%s): %s", p, d, chain, r.why)
				}
			}
		}
	}
}

// TestForbiddenImportsCatches proves the check sees an upward import.
func TestForbiddenImportsCatches(t *testing.T) {
	all := map[string]pkg{
		"results":    {imports: []string{"std:fmt", "internal/x"}},
		"internal/x": {imports: []string{"runner"}},
		"runner":     {},
	}
	chain, ok := deps(all, "results")["runner"]
	if !ok || chain != "results -> internal/x -> runner" {
		t.Errorf("deps(results)[runner] = %q, %v; want the chain through internal/x", chain, ok)
	}
	if below("std:fmt", "") || !below("internal/x", "") || !below("cmd/kvet", "cmd") || below("cmdx", "cmd") {
		t.Errorf("below misreads the module's prefixes")
	}
}
