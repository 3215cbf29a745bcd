package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/term"

	"github.com/kvet/kvet/images"
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

type runFlags struct {
	kernels                         stringsFlag
	scenarios                       stringsFlag
	boots, parallel, retries, cpus  int
	memory                          int
	appendArgs, accel, out, profile string
	timeout                         time.Duration
	isolate, quiet, verbose         bool
	resume, shard, events, failOn   string
	mirror, suite, keyring          string
	seed                            int64
	runID, cacheDir, qemu           string
	format                          string
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "[MATRIX.yaml] [flags]", "boot every kernel of a matrix (default: the embedded matrix) in QEMU, run the scenarios in each, and compare every kernel against the baseline", stderr)
	var f runFlags
	fs.Var(&f.kernels, "kernel", "a kernel to boot: a linux-image .deb or a vmlinuz/bzImage (repeatable; replaces the matrix's kernels, the first is the baseline)")
	fs.Var(&f.scenarios, "scenario", "run only this scenario (repeatable)")
	fs.IntVar(&f.boots, "boots", 0, "boots per kernel (default: the matrix's, 3)")
	fs.StringVar(&f.appendArgs, "append", "", "extra kernel parameters for every kernel")
	fs.StringVar(&f.accel, "accel", "", "auto, kvm or tcg (default: the matrix's, auto)")
	fs.DurationVar(&f.timeout, "timeout", 0, "time limit per boot (default: the matrix's, 10m)")
	fs.StringVar(&f.out, "out", "", "the run directory (default results/run-YYYYMMDD-HHMMSS)")
	fs.StringVar(&f.profile, "profile", "", "quick or full (default: the matrix's, quick)")
	fs.IntVar(&f.parallel, "parallel", 0, "guests at once (default: as many as the host's CPUs allow)")
	fs.BoolVar(&f.isolate, "isolate", false, "one guest at a time, for the most faithful timings")
	fs.IntVar(&f.retries, "retries", 2, "retries of a boot that failed for infrastructure reasons")
	fs.IntVar(&f.cpus, "cpus", 0, "vCPUs per guest (default: the matrix's, 2)")
	fs.IntVar(&f.memory, "memory", 0, "memory per guest in MiB (default: the matrix's, 1024)")
	fs.StringVar(&f.resume, "resume", "", "resume the run in this directory: run only its missing boots")
	fs.StringVar(&f.shard, "shard", "", "run shard I of N of the plan (I/N); merge shards with kvet merge")
	fs.BoolVar(&f.quiet, "quiet", false, "print only failures and the verdict")
	fs.BoolVar(&f.verbose, "v", false, "debug log: QEMU command lines, QMP events, overhead per boot")
	fs.StringVar(&f.events, "events", "", "\"json\": progress as JSON lines on standard error")
	fs.StringVar(&f.failOn, "fail-on", "", "comma-separated verdicts that fail the run: regression, improvement, inconclusive, underpowered, not-comparable, equivalent, or none (default: the matrix's, regression)")
	fs.StringVar(&f.mirror, "mirror", "", "Debian-style archive URL (default: the host's apt sources)")
	fs.StringVar(&f.suite, "suite", "", "archive suite(s), space separated, with --mirror")
	fs.StringVar(&f.keyring, "keyring", "", "OpenPGP keyring that signs the archive (default: the system's)")
	fs.Int64Var(&f.seed, "seed", 0, "seed of the boot plan and the scenarios (default: from the clock; recorded)")
	fs.StringVar(&f.runID, "run-id", "", "the run's id (shards of one run must share it; default: from the clock)")
	fs.StringVar(&f.cacheDir, "cache", "", "cache directory (default $XDG_CACHE_HOME/kvet or ~/.cache/kvet)")
	fs.StringVar(&f.qemu, "qemu", "qemu-system-x86_64", "the QEMU binary")
	fs.StringVar(&f.format, "format", "text", "the report on standard output: text, markdown, json, junit or html (the run directory gets them all)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := checkFormat(f.format); err != nil {
		return err
	}
	level := slog.LevelInfo
	switch {
	case f.quiet:
		level = slog.LevelWarn
	case f.verbose:
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// The run directory and the matrix.
	var (
		m   *matrix.Matrix
		dir *results.Dir
		old *results.Run
	)
	switch {
	case f.resume != "":
		if len(pos) > 0 || len(f.kernels) > 0 {
			return badInputf("run: --resume takes the matrix from the run directory; give no matrix file or --kernel")
		}
		dir, old, err = results.OpenDir(f.resume)
		if err != nil {
			return badInput(err)
		}
		if m, err = matrix.Parse(filepath.Join(f.resume, results.RunFile)+" (matrix)", []byte(old.Matrix)); err != nil {
			return badInput(err)
		}
	case len(f.kernels) > 0:
		if len(pos) > 0 {
			return badInputf("run: give a matrix file or --kernel, not both")
		}
		m, err = kernelMatrix(f.kernels)
	case len(pos) == 1:
		m, err = matrix.Load(pos[0])
	case len(pos) == 0:
		m, err = matrix.Default()
	default:
		return badInputf("run: one matrix file at most, got %d", len(pos))
	}
	if err != nil {
		return badInput(err)
	}
	if old == nil {
		if err := applyRunFlags(m, &f); err != nil {
			return badInput(err)
		}
	}
	failOn := m.FailOn
	if f.failOn != "" {
		vs, err := parseFailOn(f.failOn)
		if err != nil {
			return err
		}
		failOn = nil
		for _, v := range vs {
			failOn = append(failOn, string(v))
		}
	}
	shard := runner.Shard{}
	if f.shard == "" && old != nil {
		f.shard = old.Shard // a shard resumes as the same shard
	}
	if f.shard != "" {
		if shard, err = runner.ParseShard(f.shard); err != nil {
			return badInput(err)
		}
	}
	progressMode := "plain"
	switch {
	case f.events == "json":
		progressMode = "json"
	case f.events != "":
		return badInputf("run: --events %q: want json", f.events)
	case f.quiet:
		progressMode = "quiet"
	case isTerminal(stderr):
		progressMode = "bar"
	}

	// The machinery: QEMU, kvet itself as a static binary, the caches.
	qemu, err := exec.LookPath(f.qemu)
	if err != nil {
		return infra(fmt.Errorf("%s not found: install QEMU (apt-get install qemu-system-x86, or run 'make run', which does it)", f.qemu))
	}
	self, err := os.Executable()
	if err != nil {
		return infra(err)
	}
	if err := images.CheckStatic(self); err != nil {
		return infra(err)
	}
	cache := f.cacheDir
	if cache == "" {
		if cache, err = defaultCacheDir(); err != nil {
			return infra(err)
		}
	}

	// Kernels: resolve, fetch, verify, extract.
	setupStart := time.Now()
	resolver := &kernels.Resolver{CacheDir: cache, Archive: m.Archive, Logger: log, Progress: progressWriter(stderr, f.quiet)}
	var ks []*kernels.Kernel
	specs := map[string]kernels.Spec{} // by kernel name: a series shares its entry's spec
	taken := map[string]bool{}
	for i, spec := range m.Kernels {
		got, err := resolver.Resolve(ctx, spec)
		if err != nil {
			return kernelError(spec.Name, err)
		}
		if name := packageName(got, taken); name != "" && len(f.kernels) > 0 && old == nil {
			// --kernel named a .deb by a file name that says nothing
			// (a cache path): name the kernel after its package.
			if m.Baseline == spec.Name {
				m.Baseline = name
			}
			spec.Name, m.Kernels[i].Name, got[0].Name = name, name, name
		}
		taken[got[0].Name] = true
		for _, k := range got {
			specs[k.Name] = spec
		}
		ks = append(ks, got...)
	}
	baseline := m.Baseline
	if len(ks) > 0 && !hasKernel(ks, baseline) {
		baseline = ks[0].Name // a series baseline: its oldest member
	}
	if old != nil {
		if err := sameKernels(old, ks); err != nil {
			return badInput(fmt.Errorf("run: resume %s: %w", f.resume, err))
		}
	}

	// Images, one per kernel, cached by their inputs.
	plan, err := guestPlan(m)
	if err != nil {
		return badInput(err)
	}
	extra, err := execFiles(m)
	if err != nil {
		return badInput(err)
	}
	builder := &images.Builder{CacheDir: cache, Logger: log}
	imgs := map[string]*images.Image{}
	for _, k := range ks {
		img, err := builder.Build(ctx, images.Spec{Init: self, Kernel: k, Modules: images.DefaultModules, Extra: extra})
		if err != nil {
			return kernelError(k.Name, err)
		}
		imgs[k.Name] = img
	}

	// The accelerator, proven by a probe boot.
	accel := m.Accel
	if old != nil {
		accel = old.Accel
	}
	probe := bootSpec(qemu, m, ks[0], specs[ks[0].Name], imgs[ks[0].Name], f.appendArgs, "", log)
	probe.Timeout = 60 * time.Second
	host := hostInfo(qemu)
	accel, warning, err := chooseAccel(ctx, accel, cache, host.QEMUVersion, probe)
	if err != nil {
		return infra(err)
	}
	if warning != "" {
		log.Warn(warning)
	}
	if old != nil && accel != old.Accel {
		return infra(fmt.Errorf("run: resume %s: the run used %s, this host offers %s: timings would not be comparable", f.resume, old.Accel, accel))
	}

	// Guests at once, and the host CPUs each one's vCPUs are pinned to.
	parallel, cpuSets, spare, err := poolShape(f.parallel, m.Parallel, f.isolate, m.CPUs)
	if err != nil {
		return infra(err)
	}
	if cpuSets == nil {
		log.Info("guests not pinned: fewer host CPUs than their vCPUs", "parallel", parallel, "cpus", m.CPUs)
	} else {
		// The spare CPUs are claimed too: QEMU's emulator threads go there.
		claim, err := runner.ClaimCPUs(filepath.Join(cache, "cpus"), append(slices.Clone(cpuSets), spare))
		if err != nil {
			return infra(err)
		}
		if claim == nil {
			log.Info("guests not pinned: another kvet holds host CPUs", "parallel", parallel)
			cpuSets, spare = nil, nil
		}
		defer claim.Release()
	}

	// The run directory.
	run := old
	if run == nil {
		seed := m.Seed
		if seed == 0 {
			seed = time.Now().UnixNano() % 1_000_000_007
		}
		m.Seed = seed
		id := f.runID
		if id == "" {
			id = "run-" + time.Now().Format("20060102-150405")
		}
		matrixYAML, err := yaml.Marshal(m)
		if err != nil {
			return infra(err)
		}
		var names []string
		for _, k := range ks {
			names = append(names, k.Name)
		}
		run = &results.Run{
			ID: id, Created: time.Now().UTC(), Host: host, Accel: accel, Baseline: baseline,
			Kernels: kernelInfos(ks, specs), Boots: m.Boots, Profile: m.Profile, Seed: seed,
			Plan: runner.PlanBoots(names, m.Boots, seed), Matrix: string(matrixYAML), Shard: shard.String(),
			Parallel: parallel, Isolate: f.isolate, Pinned: cpuSets != nil,
		}
		out := f.out
		if out == "" {
			out = filepath.Join("results", id)
		}
		if dir, err = results.CreateDir(out, run); err != nil {
			return badInput(err)
		}
	}
	setup := time.Since(setupStart)
	log.Info("run", "dir", dir.Path, "kernels", len(ks), "boots", m.Boots, "accel", accel, "parallel", parallel, "pinned", cpuSets != nil, "setup", setup.Round(time.Millisecond))

	// The boots.
	byName := map[string]*kernels.Kernel{}
	for _, k := range ks {
		byName[k.Name] = k
	}

	entries := shard.Select(run.Plan)
	prog := newProgress(stderr, progressMode, len(entries))
	pool := &runner.Pool{
		Parallel: parallel, Retries: f.retries, Dir: dir, OnEvent: prog.event, CPUSets: cpuSets, SpareCPUs: spare,
		Launch: func(ctx context.Context, e results.PlanEntry, attempt int, slot runner.Slot) *results.Boot {
			k := byName[e.Kernel]
			console := results.ConsoleFile(e.Kernel, e.Index)
			spec := bootSpec(qemu, m, k, specs[k.Name], imgs[k.Name], f.appendArgs, filepath.Join(dir.Path, console), log)
			spec.Accel = accel
			spec.Plan = plan
			spec.Plan.Seed = run.Seed*1000 + int64(e.Seq)
			spec.Plan.Sysctl = specs[k.Name].Sysctl
			spec.HostCPUs, spec.EmulatorCPUs = slot.CPUs, slot.Emulator
			b := runner.Boot(ctx, spec)
			b.ConsoleFile = console
			addConfigFacts(b, k)
			return b
		},
	}
	sum, err := pool.Run(ctx, entries)
	prog.finish()
	if errors.Is(err, context.Canceled) {
		return infra(fmt.Errorf("interrupted: %d boots recorded in %s; continue with: kvet run --resume %s", sum.Ran+sum.Skipped, dir.Path, dir.Path))
	}
	if err != nil {
		return infra(err)
	}
	return finishRun(stdout, stderr, dir, run, m, failOn, sum.InfraErrors > 0, f.quiet, f.format)
}

// poolShape decides how many guests run at once: --isolate means one,
// otherwise --parallel, the matrix's parallel, or as many as the host's CPUs
// hold guests of cpus vCPUs. When every guest can have host CPUs of its own,
// it returns their sets (nil: guests are not pinned) and the CPUs left over
// for QEMU's emulator threads.
func poolShape(flagParallel, matrixParallel int, isolate bool, cpus int) (int, [][]int, []int, error) {
	host, err := runner.HostCPUs()
	if err != nil {
		return 0, nil, nil, err
	}
	parallel := flagParallel
	if parallel == 0 {
		parallel = matrixParallel
	}
	if parallel == 0 {
		parallel = max(1, len(host)/max(cpus, 1))
	}
	if isolate {
		parallel = 1
	}
	sets := runner.CPUSets(host, parallel, cpus)
	if sets == nil {
		return parallel, nil, nil, nil
	}
	return parallel, sets, runner.SpareCPUs(host, sets), nil
}

// kernelMatrix builds a matrix from --kernel files.
func kernelMatrix(files []string) (*matrix.Matrix, error) {
	var b strings.Builder
	b.WriteString("kernels:\n")
	seen := map[string]int{}
	for _, f := range files {
		name := kernelNameFromFile(f)
		seen[name]++
		if seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		key := "vmlinuz"
		if strings.HasSuffix(f, ".deb") {
			key = "deb"
		}
		fmt.Fprintf(&b, "  - name: %q\n    %s: %q\n", name, key, f)
	}
	return matrix.Parse("--kernel", []byte(b.String()))
}

// kernelNameFromFile names a kernel after its file: the package's version
// part for a .deb, the base name otherwise.
func kernelNameFromFile(path string) string {
	base := filepath.Base(path)
	base = strings.TrimSuffix(base, ".deb")
	if pkg, _, ok := strings.Cut(base, "_"); ok {
		base = strings.TrimPrefix(pkg, "linux-image-")
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+@-", r) {
			return r
		}
		return '-'
	}, base)
	return strings.TrimLeft(clean, "._+@-")
}

func applyRunFlags(m *matrix.Matrix, f *runFlags) error {
	if f.boots != 0 {
		m.Boots = f.boots
	}
	if f.accel != "" {
		m.Accel = f.accel
	}
	if f.timeout != 0 {
		m.Timeout = matrix.Duration(f.timeout)
	}
	if f.profile != "" {
		m.Profile = f.profile
	}
	if f.cpus != 0 {
		m.CPUs = f.cpus
	}
	if f.memory != 0 {
		m.Memory = f.memory
	}
	if f.seed != 0 {
		m.Seed = f.seed
	}
	if f.mirror != "" {
		m.Mirror = f.mirror
	}
	if f.suite != "" {
		m.Suite = f.suite
	}
	if f.keyring != "" {
		m.Keyring = f.keyring
	}
	if len(f.scenarios) > 0 {
		var keep []matrix.Scenario
		for _, name := range f.scenarios {
			found := false
			for _, s := range m.Scenarios {
				if s.Name == name {
					keep = append(keep, s)
					found = true
				}
			}
			if !found {
				keep = append(keep, matrix.Scenario{Name: name})
			}
		}
		m.Scenarios = keep
	}
	// Re-validate the matrix with the flags applied, through its own checks.
	text, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	nm, err := matrix.Parse("flags", text)
	if err != nil {
		return err
	}
	nm.File = m.File
	*m = *nm
	return nil
}

// guestPlan turns the matrix's scenarios into the plan sent to each guest.
func guestPlan(m *matrix.Matrix) (wire.Plan, error) {
	p := wire.Plan{Profile: m.Profile, Timeout: int64(time.Duration(m.Timeout))}
	for _, s := range m.Scenarios {
		params, err := json.Marshal(s.Params)
		if err != nil {
			return p, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		p.Scenarios = append(p.Scenarios, wire.Invocation{Name: s.Name, Label: s.Label, Params: params})
	}
	return p, nil
}

func bootSpec(qemu string, m *matrix.Matrix, k *kernels.Kernel, spec kernels.Spec, img *images.Image, appendArgs, console string, log *slog.Logger) runner.BootSpec {
	return runner.BootSpec{
		QEMU: qemu, Kernel: k.Vmlinuz, Initrd: img.Path,
		Append: strings.TrimSpace(spec.Cmdline + " " + appendArgs),
		CPUs:   m.CPUs, MemoryMB: m.Memory, Timeout: time.Duration(m.Timeout),
		ConsolePath: console, Logger: log.With("kernel", k.Name),
	}
}

func hasKernel(ks []*kernels.Kernel, name string) bool {
	for _, k := range ks {
		if k.Name == name {
			return true
		}
	}
	return false
}

func kernelInfos(ks []*kernels.Kernel, specs map[string]kernels.Spec) []results.Kernel {
	var out []results.Kernel
	for _, k := range ks {
		s := specs[k.Name]
		out = append(out, results.Kernel{Name: k.Name, Source: k.Source, Package: k.Package, Version: k.Version,
			Release: k.Release, SHA256: k.SHA256, Cmdline: s.Cmdline, Sysctl: s.Sysctl, Config: selectedConfig(k.Config)})
	}
	return out
}

// sameKernels refuses to resume a run with kernels other than its own.
func sameKernels(run *results.Run, ks []*kernels.Kernel) error {
	if len(run.Kernels) != len(ks) {
		return fmt.Errorf("the matrix now resolves to %d kernels, the run has %d", len(ks), len(run.Kernels))
	}
	for i, k := range ks {
		if r := run.Kernels[i]; r.Name != k.Name || r.SHA256 != k.SHA256 {
			return fmt.Errorf("kernel %s now resolves to %s %s (sha256 %.12s), the run used %s (sha256 %.12s)", k.Name, k.Package, k.Version, k.SHA256, r.Version, r.SHA256)
		}
	}
	return nil
}

// configKeys are the kernel config options that explain scheduling and TCP
// behaviour; they are recorded with the run and compared.
var configKeys = []string{"CONFIG_HZ", "CONFIG_PREEMPT", "CONFIG_PREEMPT_RT", "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT_NONE",
	"CONFIG_PREEMPT_DYNAMIC", "CONFIG_PREEMPT_LAZY", "CONFIG_NO_HZ_FULL", "CONFIG_NO_HZ_IDLE", "CONFIG_SCHED_AUTOGROUP",
	"CONFIG_SCHED_CORE", "CONFIG_SCHED_CLASS_EXT", "CONFIG_RT_GROUP_SCHED", "CONFIG_CFS_BANDWIDTH", "CONFIG_DEFAULT_TCP_CONG",
	"CONFIG_TCP_CONG_BBR", "CONFIG_TCP_CONG_CUBIC", "CONFIG_NET_SCH_DEFAULT", "CONFIG_IRQ_FORCED_THREADING", "CONFIG_SCHEDSTATS"}

func selectedConfig(cfg map[string]string) map[string]string {
	if cfg == nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range configKeys {
		if v, ok := cfg[k]; ok {
			out[k] = v
		} else {
			out[k] = "n"
		}
	}
	return out
}

func addConfigFacts(b *results.Boot, k *kernels.Kernel) {
	if k.Config == nil {
		return
	}
	if b.Facts == nil {
		b.Facts = map[string]string{}
	}
	for key, v := range selectedConfig(k.Config) {
		b.Facts["config."+key] = v
	}
}

func kernelError(name string, err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return infra(fmt.Errorf("kernel %s: interrupted", name))
	}
	if isInfraKernelError(err) {
		return infra(fmt.Errorf("kernel %s: %w", name, err))
	}
	return badInput(fmt.Errorf("kernel %s: %w", name, err))
}

func defaultCacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kvet"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set XDG_CACHE_HOME or --cache")
	}
	return filepath.Join(d, "kvet"), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func progressWriter(w io.Writer, quiet bool) io.Writer {
	if quiet {
		return io.Discard
	}
	return w
}

func hostInfo(qemu string) results.Host {
	h := results.Host{CPUs: runtime.NumCPU(), KvetVersion: kvetVersion(), GoVersion: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(qemu, "--version").Output(); err == nil {
		h.QEMUVersion = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return h
}

var hexName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// packageName is a better name for a kernel resolved from a .deb whose file
// name is a content hash, or "".
func packageName(ks []*kernels.Kernel, taken map[string]bool) string {
	if len(ks) != 1 || !hexName.MatchString(ks[0].Name) || ks[0].Package == "" {
		return ""
	}
	name := strings.TrimPrefix(ks[0].Package, "linux-image-")
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", strings.TrimPrefix(ks[0].Package, "linux-image-"), i)
	}
	return name
}
