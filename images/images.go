// Package images owns the guest's initramfs: a newc cpio holding the static
// kvet binary as /init, the kernel modules the guest loads with their
// modules.dep, and extra files, cached by the hash of its inputs. It never
// starts a VM.
package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/u-root/u-root/pkg/cpio"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
)

// formatVersion changes whenever the layout of an image changes, so that
// old cache entries are not reused.
const formatVersion = "kvet-image-1"

// DefaultModules are the modules the guest loads, in order. virtio_pci and
// virtio_console carry the results port and are required; the others are
// used when the kernel has them (pvpanic_mmio reports panics to QEMU;
// tcp_bbr, sch_netem and veth serve the TCP scenarios; virtio_blk, zram and
// the compressors zram asks the crypto API for (lzo-rle, lz4: no modprobe in
// the guest loads them on demand) serve the memory scenarios' swap and
// page cache).
var DefaultModules = []string{"virtio_pci", "virtio_console", "virtio_blk", "pvpanic_mmio", "tcp_bbr", "sch_netem", "veth", "lzo_rle", "lz4", "zram"}

// requiredModules cannot be missing: without them there is no results port.
var requiredModules = map[string]bool{"virtio_pci": true, "virtio_console": true}

// File is an extra file copied into the image, keeping Src's mode.
type File struct {
	Src string // path on the host
	Dst string // absolute path in the guest
}

// Spec is what an image is built from.
type Spec struct {
	Init    string          // path of the static kvet binary, /init in the guest
	Kernel  *kernels.Kernel // whose modules go in
	Modules []string        // names to load in the guest, in order (DefaultModules, usually)
	Extra   []File          // extra files
}

// Image is a built initramfs.
type Image struct {
	Path    string   // the cpio file
	Hash    string   // hex SHA-256 of the inputs: the cache key
	SHA256  string   // hex SHA-256 of the image itself, as built
	Cached  bool     // it was already in the cache
	Load    []string // modules the guest will load, in order
	Skipped []string // optional modules left out, each with why
}

// Builder builds images into CacheDir/images. Two processes may share a
// CacheDir. The zero value (but for CacheDir) is ready to use.
type Builder struct {
	// CacheDir is the cache root; "" means $XDG_CACHE_HOME/kvet.
	CacheDir string
	Logger   *slog.Logger // nil: discard

	mu       sync.Mutex
	hashes   map[fileKey]string     // file content hashes by path, size and mtime
	closures map[closureKey]closure // module resolutions by tree and name
	indexes  map[string]*kernels.ModuleIndex
	objects  map[fileKey][]byte // decompressed modules by path, size and mtime
}

type closureKey struct{ dir, name string }

type closure struct {
	mods []kernels.Module
	err  error
}

type fileKey struct {
	path  string
	size  int64
	mtime time.Time
}

// moduleObject returns a compressed module decompressed, remembering it
// like hashFile does, so a cached image costs no decompression.
func (b *Builder) moduleObject(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	k := fileKey{p, fi.Size(), fi.ModTime()}
	b.mu.Lock()
	obj, ok := b.objects[k]
	b.mu.Unlock()
	if ok {
		return obj, nil
	}
	if obj, err = kernels.ReadModule(p); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.objects == nil {
		b.objects = make(map[fileKey][]byte)
	}
	b.objects[k] = obj
	b.mu.Unlock()
	return obj, nil
}

// hashFile returns the hex SHA-256 of a file, remembering it by path, size
// and modification time: the kvet binary is hashed once per process, not
// once per image.
func (b *Builder) hashFile(p string) (string, fs.FileInfo, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s: not a regular file", p)
	}
	k := fileKey{p, fi.Size(), fi.ModTime()}
	b.mu.Lock()
	h, ok := b.hashes[k]
	b.mu.Unlock()
	if ok {
		return h, fi, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", nil, fmt.Errorf("%s: %w", p, err)
	}
	h = hex.EncodeToString(sum.Sum(nil))
	b.mu.Lock()
	if b.hashes == nil {
		b.hashes = make(map[fileKey]string)
	}
	b.hashes[k] = h
	b.mu.Unlock()
	return h, fi, nil
}

// entry is one record of the image: a directory, a device, or a file whose
// content comes from a host path or from memory.
type entry struct {
	name string // without the leading slash
	mode uint64 // cpio mode, type bits included
	src  string // host file, for regular files
	data []byte // in-memory content, when src is ""
	dev  [2]uint64
	hash string // content hash, for the cache key
}

// Build returns the image for s, building it unless the cache has it.
func (b *Builder) Build(ctx context.Context, s Spec) (*Image, error) {
	start := time.Now()
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.Kernel == nil {
		return nil, errors.New("image: no kernel")
	}
	if err := CheckStatic(s.Init); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	img := &Image{}
	entries, err := b.entries(s, img)
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", kernelName(s.Kernel), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := sha256.New()
	fmt.Fprintf(key, "%s\nkernel %s %s\n", formatVersion, s.Kernel.Release, s.Kernel.SHA256)
	for _, e := range entries {
		fmt.Fprintf(key, "%s %o %d:%d %s\n", e.name, e.mode, e.dev[0], e.dev[1], e.hash)
	}
	img.Hash = hex.EncodeToString(key.Sum(nil))

	cacheDir := b.CacheDir
	if cacheDir == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("image: cache dir: %w", err)
		}
		cacheDir = filepath.Join(c, "kvet")
	}
	dir := filepath.Join(cacheDir, "images")
	img.Path = filepath.Join(dir, img.Hash+".cpio")
	if cached(img, log, false) {
		img.Cached = true
		log.Debug("image cached", "kernel", kernelName(s.Kernel), "path", img.Path)
		return img, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	lock := flock.New(img.Path + ".lock")
	if _, err := lock.TryLockContext(ctx, 50*time.Millisecond); err != nil {
		return nil, fmt.Errorf("image lock: %w", err)
	}
	defer lock.Unlock()
	if cached(img, log, true) {
		img.Cached = true // another process built it while we waited
		return img, nil
	}
	if err := write(ctx, dir, img.Path, entries); err != nil {
		return nil, fmt.Errorf("image for %s: %w", kernelName(s.Kernel), err)
	}
	if err := recordSum(img); err != nil {
		return nil, fmt.Errorf("image for %s: %w", kernelName(s.Kernel), err)
	}
	log.Info("image built", "kernel", kernelName(s.Kernel), "path", img.Path, "modules", img.Load, "skipped", img.Skipped, "took", time.Since(start))
	return img, nil
}

func kernelName(k *kernels.Kernel) string {
	if k.Name != "" {
		return k.Name + " (" + k.Release + ")"
	}
	return k.Release
}

// entries lists the image's records in sorted order (parents before their
// children) and fills img.Load and img.Skipped.
func (b *Builder) entries(s Spec, img *Image) ([]entry, error) {
	byName := map[string]entry{}
	add := func(e entry) error {
		if old, dup := byName[e.name]; dup {
			switch {
			case old.mode == e.mode && old.mode&cpio.S_IFMT == cpio.S_IFDIR:
			case old.mode == e.mode && old.hash != "" && old.hash == e.hash:
				// The same content twice, such as libc for two exec programs.
				return nil
			default:
				return fmt.Errorf("/%s: twice in the image", e.name)
			}
		}
		byName[e.name] = e
		// Parents, so that every file's directory exists.
		for d := path.Dir(e.name); d != "."; d = path.Dir(d) {
			if old, ok := byName[d]; ok && old.mode&cpio.S_IFMT != cpio.S_IFDIR {
				return fmt.Errorf("/%s: parent /%s is not a directory", e.name, d)
			}
			if _, ok := byName[d]; !ok {
				byName[d] = entry{name: d, mode: cpio.S_IFDIR | 0o755}
			}
		}
		return nil
	}
	file := func(name, src string, mode uint64) error {
		h, fi, err := b.hashFile(src)
		if err != nil {
			return err
		}
		if mode == 0 {
			mode = uint64(fi.Mode().Perm())
			if fi.Mode()&fs.ModeSetuid != 0 {
				mode |= cpio.S_ISUID
			}
			if fi.Mode()&fs.ModeSetgid != 0 {
				mode |= cpio.S_ISGID
			}
		}
		return add(entry{name: name, mode: cpio.S_IFREG | mode, src: src, hash: h})
	}
	mem := func(name string, data []byte) error {
		sum := sha256.Sum256(data)
		return add(entry{name: name, mode: cpio.S_IFREG | 0o644, data: data, hash: hex.EncodeToString(sum[:])})
	}
	for _, d := range []entry{
		{name: "dev", mode: cpio.S_IFDIR | 0o755},
		{name: "dev/console", mode: cpio.S_IFCHR | 0o600, dev: [2]uint64{5, 1}},
		{name: "proc", mode: cpio.S_IFDIR | 0o555},
		{name: "sys", mode: cpio.S_IFDIR | 0o555},
		{name: "tmp", mode: cpio.S_IFDIR | 0o1777},
	} {
		if err := add(d); err != nil {
			return nil, err
		}
	}
	if err := file("init", s.Init, 0o755); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	mods, err := b.resolveModules(s.Kernel, s.Modules, img)
	if err != nil {
		return nil, err
	}
	mods = slices.Clone(mods) // resolutions are shared across builds
	var list strings.Builder
	for i, m := range mods {
		img.Load = append(img.Load, m.Name)
		list.WriteString(m.Name + "\n")
		rel := kernels.UncompressedPath(m.RelPath)
		if rel == m.RelPath {
			if err := file(path.Join("lib/modules", s.Kernel.Release, rel), m.Path, 0o644); err != nil {
				return nil, fmt.Errorf("module %s: %w", m.Name, err)
			}
			continue
		}
		// Compressed modules go in decompressed: the guest would otherwise
		// decompress them in user space, seconds under TCG, every boot.
		obj, err := b.moduleObject(m.Path)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Name, err)
		}
		if err := mem(path.Join("lib/modules", s.Kernel.Release, rel), obj); err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Name, err)
		}
		mods[i].RelPath = rel
	}
	if err := mem(strings.TrimPrefix(wire.ModulesFile, "/"), []byte(list.String())); err != nil {
		return nil, err
	}
	if len(mods) > 0 {
		if err := mem(path.Join("lib/modules", s.Kernel.Release, "modules.dep"), kernels.ModulesDep(mods)); err != nil {
			return nil, err
		}
	}
	for _, x := range s.Extra {
		if !path.IsAbs(x.Dst) || path.Clean(x.Dst) == "/" {
			return nil, fmt.Errorf("extra file %s: destination %q is not an absolute file path", x.Src, x.Dst)
		}
		if err := file(strings.TrimPrefix(path.Clean(x.Dst), "/"), x.Src, 0); err != nil {
			return nil, fmt.Errorf("extra file: %w", err)
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	// A parent is a prefix of its children, so it sorts first.
	slices.Sort(names)
	out := make([]entry, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out, nil
}

// resolveModules finds the named modules and their dependencies in the
// kernel's modules tree, in load order. Required modules missing from a
// kernel that needs them as modules are an error; optional ones are skipped
// with a note in img.Skipped.
func (b *Builder) resolveModules(k *kernels.Kernel, names []string, img *Image) ([]kernels.Module, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var out []kernels.Module
	seen := map[string]bool{}
	for _, n := range names {
		name := kernels.ModuleName(n)
		if k.ModulesDir == "" {
			// Without a modules tree only the config can tell; a kernel
			// without one is trusted to have what it needs built in.
			if requiredModules[name] && k.Config != nil && k.Config[configSymbol(name)] == "m" {
				return nil, fmt.Errorf("kernel %s has %s as a module but no modules directory: the results port needs it", kernelName(k), name)
			}
			if !requiredModules[name] {
				img.Skipped = append(img.Skipped, name+": kernel has no modules directory")
			}
			continue
		}
		mods, err := b.closure(k, name)
		if err != nil {
			if requiredModules[name] {
				return nil, fmt.Errorf("kernel %s lacks %s, which the results port needs (neither built in nor a module): %w", kernelName(k), name, err)
			}
			img.Skipped = append(img.Skipped, name+": "+err.Error())
			continue
		}
		for _, m := range mods {
			if !seen[m.Name] {
				seen[m.Name] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// closure resolves one module name in a modules tree, remembering the
// answer: walking a tree and decompressing modules to read their
// dependencies costs tens of milliseconds per image otherwise.
func (b *Builder) closure(k *kernels.Kernel, name string) ([]kernels.Module, error) {
	dir := k.ModulesDir
	key := closureKey{dir, name}
	b.mu.Lock()
	c, ok := b.closures[key]
	b.mu.Unlock()
	if ok {
		return c.mods, c.err
	}
	b.mu.Lock()
	ix := b.indexes[dir]
	b.mu.Unlock()
	if ix == nil {
		var err error
		if ix, err = k.ModuleIndex(); err != nil {
			return nil, err // not remembered: may be transient
		}
	}
	c.mods, _, c.err = ix.Closure(name)
	b.mu.Lock()
	if b.closures == nil {
		b.closures = make(map[closureKey]closure)
		b.indexes = make(map[string]*kernels.ModuleIndex)
	}
	b.closures[key] = c
	b.indexes[dir] = ix
	b.mu.Unlock()
	return c.mods, c.err
}

// configSymbol guesses the config option of a module from its name, which
// holds for the required ones (virtio_pci -> CONFIG_VIRTIO_PCI).
func configSymbol(module string) string { return "CONFIG_" + strings.ToUpper(module) }

// write writes the archive to a temporary file in dir and renames it to dst.
func write(ctx context.Context, dir, dst string, entries []entry) (err error) {
	f, err := os.CreateTemp(dir, ".image-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := cpio.Newc.Writer(f)
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := e.record()
		if err != nil {
			return err
		}
		r.Ino = uint64(i + 1) // distinct, so that no two files look like hard links
		r.NLink = 1
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			if c, ok := r.ReaderAt.(io.Closer); ok {
				c.Close()
			}
			return fmt.Errorf("/%s: %w", e.name, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func (e entry) record() (cpio.Record, error) {
	info := cpio.Info{Name: e.name, Mode: e.mode}
	switch {
	case e.mode&cpio.S_IFMT == cpio.S_IFDIR:
		return cpio.Record{Info: info}, nil
	case e.mode&cpio.S_IFMT == cpio.S_IFCHR:
		info.Rmajor, info.Rminor = e.dev[0], e.dev[1]
		return cpio.Record{Info: info}, nil
	case e.src == "":
		return cpio.StaticRecord(e.data, info), nil
	}
	f, err := os.Open(e.src)
	if err != nil {
		return cpio.Record{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return cpio.Record{}, err
	}
	info.FileSize = uint64(fi.Size())
	// The writer closes the file once it has copied it.
	return cpio.Record{ReaderAt: f, Info: info}, nil
}
