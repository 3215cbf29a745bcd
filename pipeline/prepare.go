package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kvet/kvet/images"
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/kernels/apt"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
	"github.com/kvet/kvet/scenarios"
)

// resolveKernels resolves, fetches, verifies and extracts every kernel of
// the matrix; a resumed run must get its own kernels again.
func (r *Run) resolveKernels(ctx context.Context, cache string, old *results.Run) error {
	m := r.Matrix
	resolver := &kernels.Resolver{CacheDir: cache, Archive: m.Archive, Logger: r.log, Progress: r.opts.Progress, Terminal: r.opts.Terminal}
	r.specs = map[string]kernels.Spec{}
	r.byName = map[string]*kernels.Kernel{}
	taken := map[string]bool{}
	for i, spec := range m.Kernels {
		got, err := resolver.Resolve(ctx, spec)
		if err != nil {
			return KernelError(spec.Name, err)
		}
		if name := packageName(got, taken); name != "" && r.opts.NameByPackage && old == nil {
			// A .deb named by a file name that says nothing (a cache
			// path): name the kernel after its package.
			if m.Baseline == spec.Name {
				m.Baseline = name
			}
			spec.Name, m.Kernels[i].Name, got[0].Name = name, name, name
		}
		taken[got[0].Name] = true
		for _, k := range got {
			r.specs[k.Name] = spec
			r.byName[k.Name] = k
		}
		r.kernels = append(r.kernels, got...)
	}
	if len(r.kernels) == 0 {
		return badInput(errors.New("run: the matrix resolves to no kernel"))
	}
	if old != nil {
		if err := sameKernels(old, r.kernels); err != nil {
			return badInput(fmt.Errorf("run: resume %s: %w", r.opts.Resume, err))
		}
	}
	return nil
}

// buildImages builds (or finds in the cache) one image per kernel, and the
// plan each guest is sent.
func (r *Run) buildImages(ctx context.Context, self, cache string) error {
	var err error
	r.scratchMB = scratchDisk(r.Matrix)
	if r.plan, err = guestPlan(r.Matrix); err != nil {
		return badInput(err)
	}
	extra, err := execFiles(r.Matrix)
	if err != nil {
		return badInput(err)
	}
	builder := &images.Builder{CacheDir: cache, Logger: r.log}
	r.images = map[string]*images.Image{}
	for _, k := range r.kernels {
		img, err := builder.Build(ctx, images.Spec{Init: self, Kernel: k, Modules: images.DefaultModules, Extra: extra})
		if err != nil {
			return KernelError(k.Name, err)
		}
		r.images[k.Name] = img
	}
	return nil
}

// chooseAccel proves the accelerator with a probe boot of the first
// kernel; a resumed run keeps its own.
func (r *Run) chooseAccel(ctx context.Context, cache string, host results.Host, old *results.Run) error {
	want := r.Matrix.Accel
	if old != nil {
		want = old.Accel
	}
	first := r.kernels[0]
	probe := r.bootSpec(first, "")
	probe.Timeout = runner.ProbeTimeout
	accel, warning, err := chooseAccel(ctx, want, cache, host.QEMUVersion, probe)
	if err != nil {
		return infra(err)
	}
	if warning != "" {
		r.log.Warn(warning)
	}
	if old != nil && accel != old.Accel {
		return infra(fmt.Errorf("run: resume %s: the run used %s, this host offers %s: timings would not be comparable", r.opts.Resume, old.Accel, accel))
	}
	r.Accel = accel
	return nil
}

// shapePool decides the guests at once and the host CPUs each one's vCPUs
// are pinned to; the spare CPUs are claimed too, for QEMU's emulator
// threads.
func (r *Run) shapePool(cache string) error {
	m := r.Matrix
	parallel, cpuSets, spare, err := poolShape(r.opts.Parallel, m.Parallel, r.opts.Isolate, m.CPUs)
	if err != nil {
		return infra(err)
	}
	if r.keptPool && !r.Record.Pinned {
		cpuSets = nil // the resumed run was not pinned: neither are its last boots
	}
	r.Parallel = parallel
	if cpuSets == nil {
		r.log.Info("guests not pinned: fewer host CPUs than their vCPUs", "parallel", parallel, "cpus", m.CPUs)
		return nil
	}
	claim, err := runner.ClaimCPUs(filepath.Join(cache, "cpus"), append(slices.Clone(cpuSets), spare))
	if err != nil {
		return infra(err)
	}
	if claim == nil {
		r.log.Info("guests not pinned: another kvet holds host CPUs", "parallel", parallel)
		return nil
	}
	r.claim, r.cpuSets, r.spare = claim, cpuSets, spare
	return nil
}

// create records a new run and creates its directory.
func (r *Run) create(host results.Host) error {
	m := r.Matrix
	if m.Seed == 0 {
		m.Seed = time.Now().UnixNano() % 1_000_000_007
	}
	id := r.opts.RunID
	if id == "" {
		id = "run-" + time.Now().Format("20060102-150405")
	}
	matrixYAML, err := yaml.Marshal(m)
	if err != nil {
		return infra(err)
	}
	var names []string
	for _, k := range r.kernels {
		names = append(names, k.Name)
	}
	baseline := m.Baseline
	if r.byName[baseline] == nil {
		baseline = r.kernels[0].Name // a series baseline: its oldest member
	}
	r.Record = &results.Run{
		ID: id, Created: time.Now().UTC(), Host: host, Accel: r.Accel, Baseline: baseline,
		Kernels: kernelInfos(r.kernels, r.specs), Boots: m.FirstRound(), Profile: m.Profile, Seed: m.Seed,
		Plan: runner.PlanBoots(names, m.FirstRound(), m.Seed), Matrix: string(matrixYAML), Shard: r.opts.Shard.String(),
		Parallel: r.Parallel, Isolate: r.opts.Isolate, Pinned: r.cpuSets != nil,
	}
	if m.Adaptive() {
		r.Record.Adaptive = &results.Adaptive{Round: m.Round, MaxBoots: m.MaxBoots, Budget: time.Duration(m.Budget)}
	}
	out := r.opts.Out
	if out == "" {
		out = filepath.Join("results", id)
	}
	if r.Dir, err = results.CreateDir(out, r.Record); err != nil {
		return runDirError(err)
	}
	return nil
}

// poolShape decides how many guests run at once: isolate means one,
// otherwise flagParallel, the matrix's parallel, or as many as the host's
// CPUs hold guests of cpus vCPUs. When every guest can have host CPUs of
// its own, it returns their sets (nil: guests are not pinned) and the CPUs
// left over for QEMU's emulator threads.
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

// scratchDisk is the scratch disk a boot of the matrix needs: the most any
// of its scenarios asks for (see scenarios.ScratchDisker), in MiB.
func scratchDisk(m *matrix.Matrix) int {
	n := 0
	for _, s := range m.Scenarios {
		if d, ok := s.Params.(scenarios.ScratchDisker); ok {
			n = max(n, d.ScratchDiskMB())
		}
	}
	return n
}

// execFiles are the programs the matrix's exec scenarios bring into the guest.
func execFiles(m *matrix.Matrix) ([]images.File, error) {
	var files []images.File
	for _, s := range m.Scenarios {
		p, ok := s.Params.(*scenarios.ExecParams)
		if !ok {
			continue
		}
		host, err := p.HostFiles()
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.ResultName(), err)
		}
		for _, h := range host {
			f, err := images.ExecFiles(h)
			if err != nil {
				return nil, fmt.Errorf("scenario %s: %w", s.ResultName(), err)
			}
			files = append(files, f...)
		}
	}
	return files, nil
}

func kernelInfos(ks []*kernels.Kernel, specs map[string]kernels.Spec) []results.Kernel {
	var out []results.Kernel
	for _, k := range ks {
		s := specs[k.Name]
		out = append(out, results.Kernel{Name: k.Name, Source: k.Source, Package: k.Package, Version: k.Version,
			Release: k.Release, SHA256: k.SHA256, Cmdline: s.Cmdline, Sysctl: s.Sysctl, Config: kernels.ReportedOf(k.Config)})
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

// KernelError gives a kernel's resolve or build error its kind: a fetch
// that failed on the way (network, a mirror, a signature or checksum that
// does not verify) is the machinery's; a kernel named wrongly or not a
// kernel is bad input.
func KernelError(name string, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.Is(err, context.Canceled):
		return infra(fmt.Errorf("kernel %s: interrupted", name))
	case isInfraKernelError(err):
		return infra(withKernel(name, err))
	}
	return badInput(withKernel(name, err))
}

func isInfraKernelError(err error) bool {
	var (
		unreach  *apt.UnreachableError
		httpErr  *apt.HTTPError
		mismatch *apt.MismatchError
	)
	return errors.As(err, &unreach) || errors.As(err, &httpErr) || errors.As(err, &mismatch) ||
		errors.Is(err, kernels.ErrNoSources) || errors.Is(err, kernels.ErrBuildTools) || fetchFault(err) || diskFault(err)
}

func hostInfo(qemu, version string) results.Host {
	h := results.Host{CPUs: runtime.NumCPU(), KvetVersion: version, GoVersion: runtime.Version()}
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
