package kernels

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Module is a loadable kernel module of a kernel's modules tree.
type Module struct {
	Name    string   // canonical name: '-' written as '_'
	Path    string   // absolute path of the .ko file
	RelPath string   // relative to the modules dir, e.g. kernel/drivers/char/virtio_console.ko.xz
	Deps    []string // names of the modules it needs loaded first
}

// ErrUnknownModule is returned (wrapped) for a module name that is neither a
// module file nor built in.
var ErrUnknownModule = errors.New("no such module")

// moduleExts are the module file suffixes, as the kernel's modules_install
// writes them.
var moduleExts = []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"}

// ModuleName canonicalises a module name or file name: the kernel treats
// '-' and '_' in module names alike and reports them with '_'.
func ModuleName(s string) string {
	s = filepath.Base(s)
	for _, ext := range moduleExts {
		if t, ok := strings.CutSuffix(s, ext); ok {
			s = t
			break
		}
	}
	return strings.ReplaceAll(s, "-", "_")
}

// ModuleIndex maps module names to files of one modules tree, and knows the
// built-in ones. Build it once per tree with IndexModules; it reads module
// files only when asked for their dependencies.
type ModuleIndex struct {
	dir     string
	release string
	files   map[string]string // name -> path relative to dir
	builtin map[string]bool
}

// IndexModules walks a lib/modules/RELEASE tree.
func IndexModules(dir string) (*ModuleIndex, error) {
	ix := &ModuleIndex{
		dir:     dir,
		release: filepath.Base(dir),
		files:   make(map[string]string),
		builtin: make(map[string]bool),
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !isModuleFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := ModuleName(rel)
		// Keep the first in lexical walk order: the result must not depend
		// on the file system's order.
		if _, dup := ix.files[name]; !dup {
			ix.files[name] = filepath.ToSlash(rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules %s: %w", dir, err)
	}
	f, err := os.Open(filepath.Join(dir, "modules.builtin"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("modules %s: %w", dir, err)
	default:
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if s := strings.TrimSpace(sc.Text()); s != "" {
				ix.builtin[ModuleName(s)] = true
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("modules %s: modules.builtin: %w", dir, err)
		}
	}
	return ix, nil
}

func isModuleFile(name string) bool {
	for _, ext := range moduleExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// Len is the number of module files in the tree.
func (ix *ModuleIndex) Len() int { return len(ix.files) }

// Builtin says whether the kernel has the named module built in.
func (ix *ModuleIndex) Builtin(name string) bool { return ix.builtin[ModuleName(name)] }

// Closure gives the named modules and everything they depend on, each once,
// dependencies before the modules that need them (a valid load order).
// Names that are built in come back in builtin instead. A name that is
// neither is an error naming it.
func (ix *ModuleIndex) Closure(names ...string) (mods []Module, builtin []string, err error) {
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int)
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = ModuleName(name)
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module %s: dependency cycle %s", name, strings.Join(append(chain, name), " -> "))
		}
		rel, ok := ix.files[name]
		if !ok {
			if ix.builtin[name] {
				state[name] = done
				builtin = append(builtin, name)
				return nil
			}
			if len(chain) > 0 {
				return fmt.Errorf("module %s (needed by %s) in %s: %w", name, chain[len(chain)-1], ix.release, ErrUnknownModule)
			}
			return fmt.Errorf("module %s in %s: %w", name, ix.release, ErrUnknownModule)
		}
		state[name] = visiting
		path := filepath.Join(ix.dir, filepath.FromSlash(rel))
		deps, err := moduleDeps(path)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		for _, d := range deps {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		mods = append(mods, Module{Name: name, Path: path, RelPath: rel, Deps: deps})
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, nil, err
		}
	}
	return mods, builtin, nil
}

// ModuleIndex reads k's modules tree; errors name k's release.
func (k *Kernel) ModuleIndex() (*ModuleIndex, error) {
	if k.ModulesDir == "" {
		return nil, fmt.Errorf("kernel %s has no modules dir: %w", k.Release, ErrUnknownModule)
	}
	ix, err := IndexModules(k.ModulesDir)
	if err != nil {
		return nil, err
	}
	if k.Release != "" {
		ix.release = k.Release
	}
	return ix, nil
}

// ModulesDep writes modules.dep for mods, in their order: "rel/path.ko:
// dep/one.ko dep/two.ko". Dependencies not among mods (built in) are left
// out; a module without dependencies is written "rel/path.ko:" with no
// trailing space, which u-root's pkg/kmodule needs.
func ModulesDep(mods []Module) []byte {
	rel := make(map[string]string, len(mods))
	for _, m := range mods {
		rel[m.Name] = m.RelPath
	}
	var b bytes.Buffer
	for _, m := range mods {
		b.WriteString(m.RelPath)
		b.WriteByte(':')
		for _, d := range m.Deps {
			if p, ok := rel[ModuleName(d)]; ok {
				b.WriteByte(' ')
				b.WriteString(p)
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// maxModuleSize bounds a decompressed module: the largest in-tree modules
// (GPU drivers) are tens of MiB.
const maxModuleSize = 256 << 20

// moduleDeps reads the depends= entry of a module file's .modinfo section.
func moduleDeps(path string) ([]string, error) {
	data, err := readModule(path)
	if err != nil {
		return nil, err
	}
	info, err := modinfoSection(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parseModinfo(info)["depends"], nil
}

// ReadModule returns a module file's object, decompressed (.ko.xz, .ko.zst,
// .ko.gz) when it is compressed.
func ReadModule(path string) ([]byte, error) { return readModule(path) }

// UncompressedPath is a module's path without its compression suffix.
func UncompressedPath(p string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		if strings.HasSuffix(p, ".ko"+ext) {
			return strings.TrimSuffix(p, ext)
		}
	}
	return p
}

func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	switch {
	case strings.HasSuffix(path, ".xz"):
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = xr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(path, ".gz"):
		gr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = gr
	}
	data, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxModuleSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxModuleSize>>20)
	}
	return data, nil
}

// modinfoSection returns the .modinfo section of an ELF object.
func modinfoSection(obj []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, fmt.Errorf("not a kernel module: %w", err)
	}
	s := f.Section(".modinfo")
	if s == nil {
		return nil, errors.New("not a kernel module: no .modinfo section")
	}
	if s.Type == elf.SHT_NOBITS {
		return nil, errors.New("not a kernel module: empty .modinfo section")
	}
	data, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf(".modinfo: %w", err)
	}
	return data, nil
}

// parseModinfo splits a .modinfo section: NUL-separated key=value strings.
// Keys may repeat (alias=, parm=); list values (depends=) are split at
// commas, and module names in depends= are canonicalised.
func parseModinfo(data []byte) map[string][]string {
	info := make(map[string][]string)
	for kv := range bytes.SplitSeq(data, []byte{0}) {
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok || len(k) == 0 {
			continue
		}
		key := string(k)
		if key != "depends" {
			info[key] = append(info[key], string(v))
			continue
		}
		for d := range strings.SplitSeq(string(v), ",") {
			if d = strings.TrimSpace(d); d != "" {
				d = ModuleName(d)
				if !slices.Contains(info[key], d) {
					info[key] = append(info[key], d)
				}
			}
		}
	}
	return info
}
