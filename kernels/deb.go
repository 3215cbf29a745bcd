package kernels

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/textproto"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/kvet/kvet/internal/atomicfile"
)

var (
	// ErrNotDeb is returned (wrapped) for a file that is not a Debian
	// binary package.
	ErrNotDeb = errors.New("not a Debian package")
	// ErrNotKernelPackage is returned (wrapped) for a .deb without a kernel
	// image.
	ErrNotKernelPackage = errors.New("not a kernel package")
)

// metaFile, inside an extraction, describes it; it is written last, so an
// extraction directory that has it is complete.
const metaFile = "kvet-kernel.json"

type debMeta struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Release string `json:"release"`
	Vmlinuz string `json:"vmlinuz"`           // relative to the extraction
	Config  string `json:"config,omitempty"`  // relative; "" when absent
	Modules string `json:"modules,omitempty"` // relative; "" when absent
	SHA256  string `json:"sha256"`            // of the image
	// Debs lists the SHA256s of the packages of a kernel split over
	// several, so that pruning one of them removes the extraction.
	Debs []string `json:"debs,omitempty"`

	configs []string // config files seen, while extracting
}

// FromDeb opens a linux-image .deb and extracts its kernel image, config and
// lib/modules/RELEASE tree into cacheDir/extracted/SHA256-OF-DEB, once: a
// later call for the same .deb, from this process or another, reuses that
// extraction. Only the kernel's files are extracted.
func FromDeb(ctx context.Context, debPath, cacheDir string) (*Kernel, error) {
	return FromDebs(ctx, []string{debPath}, cacheDir)
}

// FromDebs extracts one kernel from the packages it is split over (the
// first names it: linux-image-REL, then its linux-binary, linux-modules,
// linux-base or linux-modules-extra packages) into one cached directory,
// keyed by the packages' SHA256s. Images and configs are found under boot/
// (vmlinuz-REL, config-REL) or lib/modules/REL/ (vmlinuz, config), with or
// without a usr/ prefix.
func FromDebs(ctx context.Context, debPaths []string, cacheDir string) (*Kernel, error) {
	if len(debPaths) == 0 {
		return nil, errors.New("deb: no package")
	}
	what := debPaths[0]
	if len(debPaths) > 1 {
		what = fmt.Sprintf("%s (with %d more packages)", debPaths[0], len(debPaths)-1)
	}
	var debs []debFile
	var sums []string
	for _, p := range debPaths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("deb: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("deb %s: %w", p, err)
		}
		sum, err := debSHA256(ctx, f, fi, p, cacheDir)
		if err != nil {
			return nil, fmt.Errorf("deb %s: %w", p, err)
		}
		debs = append(debs, debFile{path: p, r: f, size: fi.Size()})
		sums = append(sums, sum)
	}
	key := sums[0]
	if len(sums) > 1 {
		h := sha256.Sum256([]byte(strings.Join(sums, "\n")))
		key = hex.EncodeToString(h[:])
	}
	root := filepath.Join(cacheDir, "extracted")
	dir := filepath.Join(root, key)
	meta, err := readMeta(dir)
	if errors.Is(err, fs.ErrNotExist) {
		meta, err = extractOnce(ctx, debs, sums, root, key)
	}
	if err != nil {
		return nil, fmt.Errorf("deb %s: %w", what, err)
	}
	k := &Kernel{
		Source:  debPaths[0],
		Package: meta.Package,
		Version: meta.Version,
		Release: meta.Release,
		Vmlinuz: filepath.Join(dir, meta.Vmlinuz),
		SHA256:  meta.SHA256,
	}
	if meta.Modules != "" {
		k.ModulesDir = filepath.Join(dir, meta.Modules)
	}
	if meta.Config != "" {
		if k.Config, err = readConfig(filepath.Join(dir, meta.Config)); err != nil {
			return nil, fmt.Errorf("deb %s: %w", what, err)
		}
	}
	return k, nil
}

// debFile is an open .deb.
type debFile struct {
	path string
	r    io.ReaderAt
	size int64
}

// readMeta reads a finished extraction's description. An extraction whose
// image has gone (a hand-cleaned cache) counts as absent, to be redone.
func readMeta(dir string) (*debMeta, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	var m debMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("extraction %s: %w", dir, err)
	}
	if m.Vmlinuz == "" || !filepath.IsLocal(m.Vmlinuz) {
		return nil, fmt.Errorf("extraction %s: bad %s", dir, metaFile)
	}
	if _, err := os.Stat(filepath.Join(dir, m.Vmlinuz)); err != nil {
		return nil, err
	}
	return &m, nil
}

// extractOnce extracts under an exclusive lock, so that two processes never
// extract the same .deb at once, into a temporary directory renamed into
// place when complete.
func extractOnce(ctx context.Context, debs []debFile, debSums []string, root, sum string) (*debMeta, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, sum)
	lock := flock.New(dir + ".lock")
	ok, err := lock.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("lock %s: not acquired", lock.Path())
	}
	defer lock.Unlock()
	// Someone else may have finished while we waited.
	if m, err := readMeta(dir); !errors.Is(err, fs.ErrNotExist) {
		return m, err
	}
	// Temporary directories of this .deb are a crashed process's leftovers:
	// their owner would hold the lock.
	if stale, err := filepath.Glob(filepath.Join(root, ".tmp-"+sum[:16]+"-*")); err == nil {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+sum[:16]+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	m := &debMeta{}
	for _, d := range debs {
		if err := extractDeb(ctx, d.r, d.size, tmp, m); err != nil {
			if len(debs) > 1 {
				return nil, fmt.Errorf("%s: %w", filepath.Base(d.path), err)
			}
			return nil, err
		}
	}
	if err := finishMeta(tmp, m, len(debs)); err != nil {
		return nil, err
	}
	if len(debs) > 1 {
		m.Debs = debSums
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, metaFile), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	// A directory left by a crashed process without its meta file is stale;
	// we hold the lock, so nobody else writes it.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return m, nil
}

// debSHA256 hashes the .deb, remembering the result by path, size and
// modification time under cacheDir/debsum, so a warm FromDeb reads no more
// than a stat.
func debSHA256(ctx context.Context, f *os.File, fi fs.FileInfo, debPath, cacheDir string) (string, error) {
	abs, err := filepath.Abs(debPath)
	if err != nil {
		return "", err
	}
	key := sha256.Sum256([]byte(abs))
	memo := filepath.Join(cacheDir, "debsum", hex.EncodeToString(key[:16]))
	stamp := fmt.Sprintf("%s\x00%d\x00%d\x00", abs, fi.Size(), fi.ModTime().UnixNano())
	if b, err := os.ReadFile(memo); err == nil {
		if s, ok := strings.CutPrefix(string(b), stamp); ok && isHexSHA256(s) {
			return s, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, io.NewSectionReader(f, 0, fi.Size())}); err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	// The memo is only an optimisation: failing to write it is not an error.
	_ = atomicfile.Write(memo, []byte(stamp+sum))
	return sum, nil
}

func isHexSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// arMember is one member of an ar archive.
type arMember struct {
	name string
	data *io.SectionReader
}

// readAr lists the members of a .deb's ar archive, checking that each lies
// inside the file.
func readAr(r io.ReaderAt, size int64) ([]arMember, error) {
	var magic [8]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "!<arch>\n" {
		return nil, fmt.Errorf("%w (no ar header)", ErrNotDeb)
	}
	var members []arMember
	for off := int64(8); off < size; {
		var h [60]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("truncated: ar header at %d", off)
			}
			return nil, err
		}
		if h[58] != '`' || h[59] != '\n' {
			return nil, fmt.Errorf("%w: bad ar header at %d", ErrNotDeb, off)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad ar member size %q at %d", ErrNotDeb, h[48:58], off)
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(h[:16])), "/")
		start := off + 60
		if n > size-start {
			return nil, fmt.Errorf("truncated: ar member %s needs %d bytes, %d left", name, n, size-start)
		}
		members = append(members, arMember{name: name, data: io.NewSectionReader(r, start, n)})
		off = start + n + n%2 // members are 2-byte aligned
	}
	return members, nil
}

// decompressor opens a tar member by its name's compression suffix.
func decompressor(name string, r io.Reader) (io.ReadCloser, error) {
	r = bufio.NewReaderSize(r, 1<<20)
	switch path.Ext(name) {
	case ".xz":
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(x), nil
	case ".zst":
		z, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return z.IOReadCloser(), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".tar":
		return io.NopCloser(r), nil
	}
	return nil, fmt.Errorf("%s: unsupported compression", name)
}

// extractDeb extracts one package's kernel files into dest, filling meta
// (its Package and Version from the first package).
func extractDeb(ctx context.Context, r io.ReaderAt, size int64, dest string, meta *debMeta) error {
	members, err := readAr(r, size)
	if err != nil {
		return err
	}
	var control, data *arMember
	for i := range members {
		switch m := &members[i]; {
		case m.name == "debian-binary":
			var v [4]byte
			if _, err := m.data.ReadAt(v[:], 0); err != nil || string(v[:]) != "2.0\n" {
				return fmt.Errorf("%w: debian-binary is not 2.0", ErrNotDeb)
			}
		case strings.HasPrefix(m.name, "control.tar") && control == nil:
			control = m
		case strings.HasPrefix(m.name, "data.tar") && data == nil:
			data = m
		}
	}
	if control == nil || data == nil || members[0].name != "debian-binary" {
		return fmt.Errorf("%w: want debian-binary, control.tar and data.tar members", ErrNotDeb)
	}
	pkg, ver, err := readControl(ctx, control)
	if err != nil {
		return fmt.Errorf("%s: %w", control.name, err)
	}
	if meta.Package == "" {
		meta.Package, meta.Version = pkg, ver
	}
	if err := extractData(ctx, data, dest, meta); err != nil {
		return fmt.Errorf("%s: %w", data.name, err)
	}
	return nil
}

func readControl(ctx context.Context, m *arMember) (pkg, ver string, err error) {
	zr, err := decompressor(m.name, m.data)
	if err != nil {
		return "", "", err
	}
	defer zr.Close()
	tr := tar.NewReader(ctxReader{ctx, zr})
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", "", errors.New("no control file")
		}
		if err != nil {
			return "", "", err
		}
		if path.Clean(h.Name) != "control" {
			continue
		}
		// A control file is an RFC 822-style paragraph, which textproto reads
		// (continuation lines included).
		hdr, err := textproto.NewReader(bufio.NewReader(io.LimitReader(tr, 1<<20))).ReadMIMEHeader()
		if err != nil && !(err == io.EOF && len(hdr) > 0) {
			return "", "", fmt.Errorf("control: %w", err)
		}
		pkg, ver = hdr.Get("Package"), hdr.Get("Version")
		if pkg == "" || ver == "" {
			return "", "", errors.New("control: no Package or Version")
		}
		return pkg, ver, nil
	}
}

// kernelPath maps a data.tar path to where it is kept, or "" for files a
// kernel does not need. Merged-/usr packages ship usr/lib/modules.
func kernelPath(name string) (string, error) {
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			// Nothing legitimate in a kernel package climbs out of its root.
			return "", fmt.Errorf("unsafe path %q", name)
		}
	}
	p := strings.TrimPrefix(path.Clean("/"+name), "/") // also strips "./"
	p = strings.TrimPrefix(p, "usr/")
	switch {
	case strings.HasPrefix(p, "boot/vmlinuz-"), strings.HasPrefix(p, "boot/config-"):
		if path.Dir(p) == "boot" {
			return p, nil
		}
	case strings.HasPrefix(p, "lib/modules/") && strings.Count(p, "/") >= 3:
		return p, nil
	}
	return "", nil
}

// imagePath says whether p (as kernelPath returns it) is a kernel image,
// and which release: boot/vmlinuz-REL or lib/modules/REL/vmlinuz.
func imagePath(p string) (release string, ok bool) {
	if r, ok := strings.CutPrefix(p, "boot/vmlinuz-"); ok {
		return r, true
	}
	if r, ok := strings.CutPrefix(p, "lib/modules/"); ok {
		if r, ok := strings.CutSuffix(r, "/vmlinuz"); ok && !strings.Contains(r, "/") {
			return r, true
		}
	}
	return "", false
}

// configPath says whether p is a kernel config: boot/config-REL or
// lib/modules/REL/config.
func configPath(p string) bool {
	if strings.HasPrefix(p, "boot/config-") {
		return true
	}
	r, ok := strings.CutPrefix(p, "lib/modules/")
	return ok && strings.Count(r, "/") == 1 && strings.HasSuffix(r, "/config")
}

func extractData(ctx context.Context, m *arMember, dest string, meta *debMeta) error {
	zr, err := decompressor(m.name, m.data)
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(ctxReader{ctx, zr})
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories are made as needed; links are not needed
		}
		p, err := kernelPath(h.Name)
		if err != nil {
			return err
		}
		if p == "" {
			continue
		}
		var sum *[sha256.Size]byte
		if rel, ok := imagePath(p); ok {
			if meta.Vmlinuz != "" {
				return fmt.Errorf("two kernel images: %s and %s", meta.Vmlinuz, p)
			}
			meta.Vmlinuz, meta.Release = p, rel
			sum = new([sha256.Size]byte)
		}
		if configPath(p) {
			meta.configs = append(meta.configs, p)
		}
		name := filepath.Join(dest, filepath.FromSlash(p))
		if _, err := os.Lstat(name); err == nil {
			return fmt.Errorf("%s: shipped by two packages", h.Name)
		}
		if err := writeFile(name, tr, sum); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if sum != nil {
			meta.SHA256 = hex.EncodeToString(sum[:])
		}
	}
}

// finishMeta checks that the packages held a kernel image and picks its
// config and modules directory.
func finishMeta(dest string, meta *debMeta, packages int) error {
	if meta.Vmlinuz == "" {
		if packages == 1 {
			return fmt.Errorf("no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz (a kernel split over several packages, as Debian's from 7.x on, is named by its package, not by one .deb): %w", ErrNotKernelPackage)
		}
		return fmt.Errorf("no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz in any of the %d packages: %w", packages, ErrNotKernelPackage)
	}
	for _, c := range meta.configs {
		// Another kernel's config: none is more honest.
		if c == "boot/config-"+meta.Release || c == "lib/modules/"+meta.Release+"/config" {
			meta.Config = c
		}
	}
	mods := "lib/modules/" + meta.Release
	if fi, err := os.Stat(filepath.Join(dest, mods)); err == nil && fi.IsDir() {
		meta.Modules = mods
	}
	return nil
}

// writeFile copies r to name, and its SHA-256 into sum when sum is not nil.
func writeFile(name string, r io.Reader, sum *[sha256.Size]byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	var w io.Writer = f
	h := sha256.New()
	if sum != nil {
		w = io.MultiWriter(f, h)
	}
	if _, err := io.Copy(w, r); err != nil {
		f.Close()
		return err
	}
	if sum != nil {
		copy(sum[:], h.Sum(nil))
	}
	return f.Close()
}
