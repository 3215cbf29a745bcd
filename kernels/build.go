package kernels

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"
)

// GuestOptions are the options kvet's guest needs, merged into every config
// kvet builds (after the user's fragments) where the config lacks them:
// enough for a tinyconfig to boot as a q35 guest with a serial console,
// virtio-serial for the results, pvpanic, the mounts PID 1 makes, and what
// the scenarios use (futexes, epoll, TCP with BBR, netem, veth, schedstats,
// cgroups), all built in so that no module is needed.
var GuestOptions = []string{
	"CONFIG_64BIT=y", "CONFIG_SMP=y", "CONFIG_PRINTK=y", "CONFIG_TTY=y",
	"CONFIG_SERIAL_8250=y", "CONFIG_SERIAL_8250_CONSOLE=y",
	"CONFIG_BLK_DEV_INITRD=y", "CONFIG_DEVTMPFS=y", "CONFIG_PROC_FS=y", "CONFIG_PROC_SYSCTL=y",
	"CONFIG_SYSFS=y", "CONFIG_SHMEM=y", "CONFIG_TMPFS=y", "CONFIG_BINFMT_ELF=y", "CONFIG_BINFMT_SCRIPT=y",
	"CONFIG_MULTIUSER=y", "CONFIG_FUTEX=y", "CONFIG_EPOLL=y", "CONFIG_EVENTFD=y", "CONFIG_SIGNALFD=y",
	"CONFIG_TIMERFD=y", "CONFIG_POSIX_TIMERS=y", "CONFIG_HIGH_RES_TIMERS=y",
	"CONFIG_HYPERVISOR_GUEST=y", "CONFIG_PARAVIRT=y", "CONFIG_KVM_GUEST=y", "CONFIG_ACPI=y",
	"CONFIG_PCI=y", "CONFIG_VIRTIO_MENU=y", "CONFIG_VIRTIO_PCI=y", "CONFIG_VIRTIO_CONSOLE=y",
	"CONFIG_PVPANIC=y", "CONFIG_PVPANIC_MMIO=y",
	"CONFIG_DEBUG_FS=y", "CONFIG_SCHED_DEBUG=y", "CONFIG_SCHEDSTATS=y",
	"CONFIG_NET=y", "CONFIG_INET=y", "CONFIG_UNIX=y", "CONFIG_TCP_CONG_ADVANCED=y", "CONFIG_TCP_CONG_BBR=y",
	"CONFIG_NET_SCHED=y", "CONFIG_NET_SCH_NETEM=y", "CONFIG_NETDEVICES=y", "CONFIG_NET_CORE=y", "CONFIG_VETH=y",
	"CONFIG_CGROUPS=y", "CONFIG_MEMCG=y", "CONFIG_PSI=y",
}

// ErrBuildTools means the host lacks what a kernel build needs (make, a C
// compiler, flex, bison, libelf headers): the machinery's fault, not the
// kernel's.
var ErrBuildTools = errors.New("kernel build tools missing")

// BuildError is a kernel that failed to build: the step, the log and its
// last lines.
type BuildError struct {
	Kernel string
	Step   string // e.g. "make bzImage modules"
	Err    error
	Log    string // the whole build log
	Tail   string // its last lines
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("kernel %s: build failed: %s: %v; log %s ends:\n%s", e.Kernel, e.Step, e.Err, e.Log, e.Tail)
}

func (e *BuildError) Unwrap() error { return e.Err }

// FragmentError is a config fragment line that is malformed, or whose value
// the final config does not have (an unknown option, or one whose
// dependencies are not met).
type FragmentError struct {
	Kernel, File string // File is "inline" for inline lines
	Line         int
	Msg          string
}

func (e *FragmentError) Error() string {
	return fmt.Sprintf("kernel %s: config fragment %s:%d: %s", e.Kernel, e.File, e.Line, e.Msg)
}

// BuildInfo says what a build did, for a message to the user.
type BuildInfo struct {
	Cached bool
	// Added lists the guest's options kvet merged in because the config
	// lacked them; Missing those the final config still lacks (this tree
	// does not have them, or their dependencies are off).
	Added, Missing []string
	Tree           string // what was built: "git COMMIT", "tarball SHA256", ...
	Dir            string // the cached kernel
	Log            string
	Took           time.Duration
}

// buildRoot is the cache's directory for source builds.
const buildRoot = "build"

// Build builds a kernel from a source spec (or finds it in the cache), and
// returns it with what was done. Kernels already resolved by this Resolver
// serve config: {from: NAME}.
func (r *Resolver) Build(ctx context.Context, s Spec) (*Kernel, *BuildInfo, error) {
	if s.Source == "" {
		return nil, nil, fmt.Errorf("kernel %s: build: no source", s.Name)
	}
	check := r.checkTools
	if check == nil {
		check = checkBuildTools
	}
	if err := check(); err != nil {
		return nil, nil, fmt.Errorf("kernel %s: %w", s.Name, err)
	}
	start := time.Now()
	tree, err := r.sourceTree(ctx, s)
	if err != nil {
		return nil, nil, fmt.Errorf("kernel %s: source %s: %w", s.Name, s.Source, err)
	}
	root := filepath.Join(r.CacheDir, buildRoot)
	// The object directory is kept per tree, so that a rebuild with a
	// changed config is incremental; its lock serialises builds of a tree.
	obj := filepath.Join(root, "obj", shortHash(tree.key+"\x00"+tree.dir))
	if err := os.MkdirAll(obj, 0o755); err != nil {
		return nil, nil, err
	}
	lock := flock.New(obj + ".lock")
	if ok, err := lock.TryLockContext(ctx, 200*time.Millisecond); err != nil || !ok {
		return nil, nil, fmt.Errorf("kernel %s: lock %s: %v", s.Name, lock.Path(), err)
	}
	defer lock.Unlock()

	logDir := filepath.Join(root, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, nil, err
	}
	logPath := filepath.Join(logDir, s.Name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close()
	b := &builder{r: r, name: s.Name, src: tree.dir, obj: obj, log: logf, logPath: logPath}
	info := &BuildInfo{Tree: tree.desc, Log: logPath}

	// The config: the starting one, the user's fragments, the guest's needs.
	final, err := b.configure(ctx, s, info)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256([]byte(tree.key + "\n" + string(final)))
	key := hex.EncodeToString(sum[:])
	out := filepath.Join(root, "kernels", key)
	info.Dir = out
	if m, err := readMeta(out); err == nil {
		info.Cached, info.Took = true, time.Since(start)
		info.Log = filepath.Join(out, "build.log")
		k, err := kernelFromMeta(out, m)
		return k, info, err
	}
	m, err := b.build(ctx, out, tree.desc, key)
	if err != nil {
		return nil, nil, err
	}
	info.Took, info.Log = time.Since(start), filepath.Join(out, "build.log")
	k, err := kernelFromMeta(out, m)
	return k, info, err
}

func kernelFromMeta(dir string, m *debMeta) (*Kernel, error) {
	k := &Kernel{Package: m.Package, Version: m.Version, Release: m.Release, Vmlinuz: filepath.Join(dir, m.Vmlinuz), SHA256: m.SHA256}
	if m.Modules != "" {
		k.ModulesDir = filepath.Join(dir, m.Modules)
	}
	if m.Config != "" {
		var err error
		if k.Config, err = readConfig(filepath.Join(dir, m.Config)); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func checkBuildTools() error {
	var missing []string
	for _, c := range []string{"make", "gcc", "flex", "bison", "bc"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if _, err := os.Stat("/usr/include/libelf.h"); err != nil {
		missing = append(missing, "libelf headers")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (on Debian: apt-get install gcc make flex bison bc libelf-dev libssl-dev, or make deps-kernel-build)", ErrBuildTools, strings.Join(missing, ", "))
	}
	return nil
}

// tree is a source tree to build, with the key that identifies its content.
type tree struct {
	dir, key, desc string
}

// sourceTree finds what to build: a git ref exported from the tree, a
// tarball extracted into the cache, or the tree itself (its commit, plus a
// hash of its changes when it is dirty; a hash of its files when it is not
// a git tree).
func (r *Resolver) sourceTree(ctx context.Context, s Spec) (tree, error) {
	src := s.Source
	if rest, ok := strings.CutPrefix(src, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return tree{}, err
		}
		src = filepath.Join(home, rest)
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return tree{}, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return tree{}, err
	}
	if !fi.IsDir() {
		if s.Ref != "" {
			return tree{}, errors.New("ref: needs a git tree, not a file")
		}
		return r.tarballTree(ctx, src, fi)
	}
	isGit := exec.CommandContext(ctx, "git", "-C", src, "rev-parse", "--is-inside-work-tree").Run() == nil
	if s.Ref != "" {
		if !isGit {
			return tree{}, fmt.Errorf("ref %s: not a git tree", s.Ref)
		}
		commit, err := git(ctx, src, "rev-parse", "--verify", "--end-of-options", s.Ref+"^{commit}")
		if err != nil {
			return tree{}, fmt.Errorf("ref %s: %w", s.Ref, err)
		}
		dir, err := r.exportOnce(ctx, "git-"+commit, func(ctx context.Context, dest string) error {
			cmd := exec.CommandContext(ctx, "git", "-C", src, "archive", "--format=tar", commit)
			pipe, err := cmd.StdoutPipe()
			if err != nil {
				return err
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				return err
			}
			xerr := untar(ctx, pipe, dest, false)
			io.Copy(io.Discard, pipe)
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("git archive: %v: %s", err, strings.TrimSpace(stderr.String()))
			}
			return xerr
		})
		return tree{dir: dir, key: "git " + commit, desc: "git " + commit[:12] + " (" + s.Ref + ")"}, err
	}
	if isGit {
		commit, err := git(ctx, src, "rev-parse", "HEAD")
		if err != nil {
			return tree{}, err
		}
		status, err := git(ctx, src, "status", "--porcelain", "--untracked-files=all")
		if err != nil {
			return tree{}, err
		}
		if status == "" {
			return tree{dir: src, key: "git " + commit, desc: "git " + commit[:12]}, nil
		}
		dirty, err := dirtyHash(ctx, src)
		if err != nil {
			return tree{}, err
		}
		return tree{dir: src, key: "git " + commit + " dirty " + dirty, desc: "git " + commit[:12] + "-dirty." + dirty[:12]}, nil
	}
	sum, err := contentHash(ctx, src)
	if err != nil {
		return tree{}, err
	}
	return tree{dir: src, key: "tree " + sum, desc: "tree " + sum[:12]}, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// dirtyHash hashes a git tree's changes: the diff against HEAD and every
// untracked file that is not ignored.
func dirtyHash(ctx context.Context, dir string) (string, error) {
	h := sha256.New()
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "diff", "HEAD", "--binary")
	cmd.Stdout = h
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git diff: %w", err)
	}
	list, err := git(ctx, dir, "ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return "", err
	}
	names := strings.Split(strings.TrimRight(list, "\x00"), "\x00")
	sort.Strings(names)
	for _, n := range names {
		if n == "" {
			continue
		}
		if err := hashFile(h, filepath.Join(dir, n), n); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// contentHash hashes every regular file and symlink under dir, by path.
func contentHash(ctx context.Context, dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "L %s\x00%s\x00", rel, t)
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return hashFile(h, p, rel)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, p, name string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "F %s\x00%o\x00%d\x00", name, fi.Mode().Perm()&0o111, fi.Size())
	_, err = io.Copy(h, f)
	return err
}

// tarballTree extracts a source tarball (as Debian's linux-source-*
// packages ship) into the cache once, keyed by its SHA256.
func (r *Resolver) tarballTree(ctx context.Context, p string, fi fs.FileInfo) (tree, error) {
	f, err := os.Open(p)
	if err != nil {
		return tree{}, err
	}
	defer f.Close()
	sum, err := debSHA256(ctx, f, fi, p, r.CacheDir)
	if err != nil {
		return tree{}, err
	}
	dir, err := r.exportOnce(ctx, "tar-"+sum, func(ctx context.Context, dest string) error {
		zr, err := decompressor(p, f)
		if err != nil {
			return err
		}
		defer zr.Close()
		return untar(ctx, zr, dest, true)
	})
	return tree{dir: dir, key: "tarball " + sum, desc: "tarball " + filepath.Base(p) + " " + sum[:12]}, err
}

// exportOnce fills cache/build/src/NAME with fill, once, under a lock.
func (r *Resolver) exportOnce(ctx context.Context, name string, fill func(ctx context.Context, dest string) error) (string, error) {
	root := filepath.Join(r.CacheDir, buildRoot, "src")
	dir := filepath.Join(root, name)
	done := filepath.Join(dir, ".kvet-complete")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	lock := flock.New(dir + ".lock")
	if ok, err := lock.TryLockContext(ctx, 200*time.Millisecond); err != nil || !ok {
		return "", fmt.Errorf("lock %s: %v", lock.Path(), err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	os.RemoveAll(dir) // a crashed process's leftovers: we hold the lock
	tmp, err := os.MkdirTemp(root, ".tmp-"+name[:min(len(name), 20)]+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := fill(ctx, tmp); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".kvet-complete"), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	return dir, os.Rename(tmp, dir)
}

// untar extracts a tar stream of a source tree into dest; strip drops the
// single top-level directory a source tarball has.
func untar(ctx context.Context, r io.Reader, dest string, strip bool) error {
	tr := tar.NewReader(ctxReader{ctx, r})
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if strip {
			_, rest, ok := strings.Cut(name, "/")
			if !ok {
				continue // the top directory itself
			}
			name = rest
		}
		if name == "." || name == "" || h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("unsafe path %q", h.Name)
		}
		p := filepath.Join(dest, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fs.FileMode(h.Mode)&0o755|0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return err
			}
		}
	}
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:12])
}

// builder runs the make steps of one build, logging them.
type builder struct {
	r        *Resolver
	name     string
	src, obj string
	log      io.Writer
	logPath  string
}

var makeTarget = regexp.MustCompile(`^[A-Za-z0-9_.-]*config$`)

// configure writes obj/.config: the starting config, the user's fragments
// and the guest's needs, through make olddefconfig. It returns the final
// config's text.
func (b *builder) configure(ctx context.Context, s Spec, info *BuildInfo) ([]byte, error) {
	cfgPath := filepath.Join(b.obj, ".config")
	var extra []cfgLine // adjustments for a distribution's config
	switch c := s.Config; {
	case c.From != "":
		k := b.r.resolvedKernel(c.From)
		if k == nil {
			return nil, fmt.Errorf("kernel %s: config from %s: no such kernel resolved before it", s.Name, c.From)
		}
		if k.Config == nil {
			return nil, fmt.Errorf("kernel %s: config from %s: that kernel has no config", s.Name, c.From)
		}
		if err := os.WriteFile(cfgPath, formatConfig(k.Config), 0o644); err != nil {
			return nil, err
		}
		// A distribution's config names its own signing certificates,
		// which a tree outside its packaging lacks.
		extra = []cfgLine{{"CONFIG_SYSTEM_TRUSTED_KEYS", `""`}, {"CONFIG_SYSTEM_REVOCATION_KEYS", `""`}, {"CONFIG_MODULE_SIG_KEY", `"certs/signing_key.pem"`}}
	case c.Value != "" && fileExists(c.Value):
		data, err := os.ReadFile(c.Value)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: config: %w", s.Name, err)
		}
		if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
			return nil, err
		}
	default:
		target := c.Value
		if target == "" {
			target = "defconfig"
		}
		if !makeTarget.MatchString(target) {
			return nil, fmt.Errorf("kernel %s: config %q: no such file, and not a make target such as defconfig or tinyconfig", s.Name, target)
		}
		if err := b.make(ctx, "make "+target, target); err != nil {
			return nil, err
		}
	}
	current, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	have, err := ParseConfig(bytes.NewReader(current))
	if err != nil {
		return nil, fmt.Errorf("kernel %s: config %s: %w", s.Name, s.Config, err)
	}
	var user []fragLine
	for _, f := range s.ConfigFragments {
		lines, err := readFragment(s.Name, f)
		if err != nil {
			return nil, err
		}
		user = append(user, lines...)
	}
	set := map[string]string{}
	for k, v := range have {
		set[k] = v
	}
	var order []cfgLine
	apply := func(l cfgLine) {
		set[l.key] = l.val
		order = append(order, l)
	}
	for _, l := range extra {
		if _, ok := have[l.key]; ok {
			apply(l)
		}
	}
	for _, l := range user {
		apply(l.cfgLine)
	}
	var guest []cfgLine
	for _, g := range GuestOptions {
		k, v, _ := strings.Cut(g, "=")
		if cur := set[k]; cur == "y" || cur == "m" && v == "m" {
			continue
		}
		l := cfgLine{k, v}
		guest = append(guest, l)
		apply(l)
	}
	if err := os.WriteFile(cfgPath, mergeConfig(current, order), 0o644); err != nil {
		return nil, err
	}
	if err := b.make(ctx, "make olddefconfig", "olddefconfig"); err != nil {
		return nil, err
	}
	final, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	got, err := ParseConfig(bytes.NewReader(final))
	if err != nil {
		return nil, err
	}
	for _, l := range user {
		if v := got[l.key]; !sameValue(v, l.val) {
			msg := fmt.Sprintf("%s=%s is not in the final config (", l.key, l.val)
			if v == "" {
				msg += "no such option in this tree, or its dependencies are off)"
			} else {
				msg += fmt.Sprintf("it is %s: its dependencies are off, or another option selects it)", v)
			}
			return nil, &FragmentError{Kernel: s.Name, File: l.file, Line: l.line, Msg: msg}
		}
	}
	for _, l := range guest {
		if v := got[l.key]; v == "y" || v == "m" {
			info.Added = append(info.Added, l.key)
		} else {
			info.Missing = append(info.Missing, l.key)
		}
	}
	return final, nil
}

func sameValue(got, want string) bool {
	if want == "n" || want == "" {
		return got == "n" || got == ""
	}
	return got == strings.Trim(want, `"`)
}

type cfgLine struct{ key, val string }

type fragLine struct {
	cfgLine
	file string
	line int
}

// readFragment reads a config fragment: a file, or inline lines (an item
// that starts with CONFIG_ or "# CONFIG_", or holds a newline).
func readFragment(kernel, f string) ([]fragLine, error) {
	name, text := f, f
	if strings.HasPrefix(f, "CONFIG_") || strings.HasPrefix(f, "# CONFIG_") || strings.Contains(f, "\n") {
		name = "inline"
	} else {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: config fragment: %w", kernel, err)
		}
		text = string(b)
	}
	var out []fragLine
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if k, ok := strings.CutSuffix(strings.TrimSpace(strings.TrimPrefix(s, "#")), " is not set"); ok && strings.HasPrefix(s, "#") {
			if !validSymbol(k) {
				return nil, &FragmentError{Kernel: kernel, File: name, Line: n, Msg: fmt.Sprintf("%q: not a CONFIG_ name", k)}
			}
			out = append(out, fragLine{cfgLine{k, "n"}, name, n})
			continue
		}
		if strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok || !validSymbol(k) || v == "" {
			return nil, &FragmentError{Kernel: kernel, File: name, Line: n, Msg: fmt.Sprintf("%q: want CONFIG_NAME=value or # CONFIG_NAME is not set", s)}
		}
		out = append(out, fragLine{cfgLine{k, v}, name, n})
	}
	return out, nil
}

var symbolRE = regexp.MustCompile(`^CONFIG_[A-Za-z0-9_]+$`)

func validSymbol(s string) bool { return symbolRE.MatchString(s) }

// mergeConfig replaces or appends each line's option in a .config, as the
// kernel's merge_config.sh does: the last value given wins.
func mergeConfig(cfg []byte, lines []cfgLine) []byte {
	last := map[string]string{}
	var keys []string
	for _, l := range lines {
		if _, ok := last[l.key]; !ok {
			keys = append(keys, l.key)
		}
		last[l.key] = l.val
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if _, ok := last[lineSymbol(line)]; ok {
			continue
		}
		out.WriteString(line + "\n")
	}
	for _, k := range keys {
		if v := last[k]; v == "n" {
			fmt.Fprintf(&out, "# %s is not set\n", k)
		} else {
			fmt.Fprintf(&out, "%s=%s\n", k, v)
		}
	}
	return out.Bytes()
}

// lineSymbol returns the option a .config line sets, or "".
func lineSymbol(line string) string {
	s := strings.TrimSpace(line)
	if k, ok := strings.CutSuffix(strings.TrimSpace(strings.TrimPrefix(s, "#")), " is not set"); ok && strings.HasPrefix(s, "#") {
		return k
	}
	if k, _, ok := strings.Cut(s, "="); ok {
		return k
	}
	return ""
}

// formatConfig writes a parsed config back as a .config.
func formatConfig(cfg map[string]string) []byte {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		v := cfg[k]
		switch {
		case v == "n":
			fmt.Fprintf(&b, "# %s is not set\n", k)
		case v == "y" || v == "m" || isNumber(v):
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		default:
			q, _ := json.Marshal(v) // a Kconfig string is quoted like a JSON one for what configs hold
			fmt.Fprintf(&b, "%s=%s\n", k, q)
		}
	}
	return b.Bytes()
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if strings.HasPrefix(s, "0x") {
		_, err := hex.DecodeString(strings.Repeat("0", len(s)%2) + s[2:])
		return err == nil && len(s) > 2
	}
	for i, c := range s {
		if !(c >= '0' && c <= '9' || c == '-' && i == 0) {
			return false
		}
	}
	return true
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// make runs make in the tree with the object directory, its output going
// to the log (and to the progress display).
func (b *builder) make(ctx context.Context, step string, targets ...string) error {
	args := append([]string{"-C", b.src, "O=" + b.obj, "KBUILD_BUILD_USER=kvet", "KBUILD_BUILD_HOST=kvet"}, targets...)
	return b.run(ctx, step, "make", args...)
}

func (b *builder) run(ctx context.Context, step, name string, args ...string) error {
	fmt.Fprintf(b.log, "### %s: %s %s\n", step, name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	tail := &tailWriter{n: 30}
	prog := b.r.buildProgress(b.name, step)
	w := io.MultiWriter(b.log, tail, prog)
	cmd.Stdout, cmd.Stderr = w, w
	// make's compilers go with it when the build is cancelled.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	prog.Close()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &BuildError{Kernel: b.name, Step: step, Err: err, Log: b.logPath, Tail: tail.String()}
	}
	return nil
}

// build compiles the configured tree and installs the kernel into out.
func (b *builder) build(ctx context.Context, out, desc, key string) (*debMeta, error) {
	cfg, err := readConfig(filepath.Join(b.obj, ".config"))
	if err != nil {
		return nil, err
	}
	modules := cfg["CONFIG_MODULES"] == "y"
	jobs := fmt.Sprintf("-j%d", runtime.NumCPU())
	targets := []string{jobs, "bzImage"}
	step := "make bzImage"
	if modules {
		targets, step = append(targets, "modules"), "make bzImage modules"
	}
	if err := b.make(ctx, step, targets...); err != nil {
		return nil, err
	}
	var rel bytes.Buffer
	cmd := exec.CommandContext(ctx, "make", "-s", "-C", b.src, "O="+b.obj, "kernelrelease")
	cmd.Stdout, cmd.Stderr = &rel, b.log
	if err := cmd.Run(); err != nil {
		return nil, &BuildError{Kernel: b.name, Step: "make kernelrelease", Err: err, Log: b.logPath}
	}
	release := strings.TrimSpace(lastLine(rel.String()))
	root := filepath.Dir(out)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+key[:16]+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	m := &debMeta{Version: desc + " config " + key[:12], Release: release, Vmlinuz: "vmlinuz", Config: "config"}
	var sum [sha256.Size]byte
	if err := copyFile(filepath.Join(b.obj, "arch/x86/boot/bzImage"), filepath.Join(tmp, "vmlinuz"), &sum); err != nil {
		return nil, err
	}
	m.SHA256 = hex.EncodeToString(sum[:])
	if err := copyFile(filepath.Join(b.obj, ".config"), filepath.Join(tmp, "config"), nil); err != nil {
		return nil, err
	}
	if modules {
		// kvet resolves module dependencies itself: no depmod needed.
		if err := b.make(ctx, "make modules_install", "INSTALL_MOD_PATH="+tmp, "INSTALL_MOD_STRIP=1", "DEPMOD=true", "modules_install"); err != nil {
			return nil, err
		}
		mods := filepath.Join("lib", "modules", release)
		os.Remove(filepath.Join(tmp, mods, "build"))
		os.Remove(filepath.Join(tmp, mods, "source"))
		m.Modules = mods
	}
	if f, ok := b.log.(*os.File); ok {
		f.Sync()
	}
	if err := copyFile(b.logPath, filepath.Join(tmp, "build.log"), nil); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, metaFile), append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	os.RemoveAll(out) // an incomplete one: the tree's lock is ours
	return m, os.Rename(tmp, out)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func copyFile(from, to string, sum *[sha256.Size]byte) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFile(to, f, sum)
}

// tailWriter keeps the last n lines written to it.
type tailWriter struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.part + string(p)
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := strings.Join(t.lines, "\n")
	if t.part != "" {
		out += "\n" + t.part
	}
	return out
}

// resolvedKernel returns a kernel this Resolver resolved, by matrix name.
func (r *Resolver) resolvedKernel(name string) *Kernel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resolved[name]
}

func (r *Resolver) remember(ks []*Kernel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resolved == nil {
		r.resolved = map[string]*Kernel{}
	}
	for _, k := range ks {
		r.resolved[k.Name] = k
	}
}

// buildProgress shows a build's progress: on a terminal one line, redrawn,
// with the elapsed time and the file being built; otherwise a log line a
// minute.
func (r *Resolver) buildProgress(name, step string) io.WriteCloser {
	return &progressLine{r: r, name: name, step: step, start: time.Now()}
}

type progressLine struct {
	r           *Resolver
	name, step  string
	start, last time.Time
	part        string
	drawn       bool
}

func (p *progressLine) Write(b []byte) (int, error) {
	s := p.part + string(b)
	i := strings.LastIndexByte(s, '\n')
	if i < 0 {
		p.part = s
		return len(b), nil
	}
	line := lastLine(s[:i])
	p.part = s[i+1:]
	now := time.Now()
	el := now.Sub(p.start).Round(time.Second)
	switch {
	case p.r.Terminal && p.r.Progress != nil:
		if now.Sub(p.last) < 200*time.Millisecond {
			return len(b), nil
		}
		p.last, p.drawn = now, true
		msg := fmt.Sprintf("build %s: %s %s  %s", p.name, p.step, el, strings.TrimSpace(line))
		if len(msg) > 100 {
			msg = msg[:100]
		}
		fmt.Fprintf(p.r.Progress, "\r\033[K%s", msg)
	case p.r.Logger != nil:
		if p.last.IsZero() {
			p.last = now
		}
		if now.Sub(p.last) >= time.Minute {
			p.last = now
			p.r.Logger.Info("building", "kernel", p.name, "step", p.step, "elapsed", el.String(), "at", strings.TrimSpace(line))
		}
	}
	return len(b), nil
}

func (p *progressLine) Close() error {
	if p.drawn {
		fmt.Fprint(p.r.Progress, "\r\033[K")
	}
	return nil
}
