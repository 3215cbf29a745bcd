package results

import (
	"fmt"
	"strings"
)

// Suffixes that keep a kernel's boots from two runs apart in one comparison.
const (
	OldSuffix = "@old"
	NewSuffix = "@new"
)

// DiffSide is one of the two runs a diff compares.
type DiffSide struct {
	Path  string // the run directory, as the user named it
	Run   *Run
	Boots []*Boot
}

// DiffOptions choose what a diff compares. Without kernel names, each
// kernel of the new run is compared with the kernel of the same name in
// the old one.
type DiffOptions struct {
	Kernel    string // this kernel only, old boots against new
	OldKernel string // the baseline kernel in the old run (with NewKernel)
	NewKernel string // the candidate kernel in the new run (with OldKernel)
	// Thresholds are the new run's (nil: the metrics' defaults).
	Thresholds map[string]float64
	// AllowMixed compares timings of runs from different machines.
	AllowMixed bool
}

// Diff is the comparison of two stored runs.
type Diff struct {
	Comparison *Comparison
	// Boots are both runs' boots, renamed NAME@old and NAME@new.
	Boots []*Boot
	// Mixed says how the runs' machines differ in what moves timings
	// (empty: alike); timing metrics are not compared unless AllowMixed.
	Mixed string
	// Warnings deserve the reader's attention; they are notes of the
	// comparison too.
	Warnings []string
}

// BadDiffError is a diff asked of kernels the runs do not have.
type BadDiffError struct{ Msg string }

func (e *BadDiffError) Error() string { return "diff: " + e.Msg }

// DiffRuns compares two runs: one comparison per kernel pair, the old boots
// renamed NAME@old and the new NAME@new so that one kernel compares with
// itself across time. Asking for kernels the runs lack is a *BadDiffError.
func DiffRuns(old, new DiffSide, o DiffOptions) (*Diff, error) {
	pairs, err := diffPairs(old, new, o)
	if err != nil {
		return nil, err
	}
	d := &Diff{Mixed: mixedMachines(old.Run, new.Run)}
	if ov, nv := old.Run.Host.KvetVersion, new.Run.Host.KvetVersion; ov != nv {
		d.Warnings = append(d.Warnings, fmt.Sprintf("kvet versions differ: %s ran %s, %s ran %s; scenario changes can move metrics", old.Path, ov, new.Path, nv))
	}
	var cs []*Comparison
	for _, p := range pairs {
		oldName, newName := p[0]+OldSuffix, p[1]+NewSuffix
		var boots []*Boot
		for _, b := range old.Boots {
			if b.Kernel == p[0] {
				c := *b
				c.Kernel = oldName
				boots = append(boots, &c)
			}
		}
		for _, b := range new.Boots {
			if b.Kernel == p[1] {
				c := *b
				c.Kernel = newName
				c.Seq += len(old.Run.Plan) + len(old.Boots) // after every old boot
				boots = append(boots, &c)
			}
		}
		ok, nk := *runKernel(old.Run, p[0]), *runKernel(new.Run, p[1])
		ok.Name, nk.Name = oldName, newName
		cs = append(cs, Compare(oldName, boots, CompareOptions{
			Thresholds:      o.Thresholds,
			AllowMixedAccel: o.AllowMixed,
			Kernels:         []Kernel{ok, nk},
			Hosts:           map[string]Host{oldName: old.Run.Host, newName: new.Run.Host},
		}))
		d.Boots = append(d.Boots, boots...)
	}
	d.Comparison = cs[0]
	if len(cs) > 1 {
		d.Comparison = Join(fmt.Sprintf("%s (run %s)", old.Path, old.Run.ID), cs)
	}
	d.Comparison.Notes = append(append([]string(nil), d.Warnings...), d.Comparison.Notes...)
	return d, nil
}

// Failed reports whether a new kernel failed through its own fault or a
// verdict is in failOn (empty: none fails).
func (d *Diff) Failed(failOn []Verdict) bool {
	var news []*Boot
	for _, b := range d.Boots {
		if strings.HasSuffix(b.Kernel, NewSuffix) {
			news = append(news, b)
		}
	}
	return KernelFailed(news) || len(failOn) > 0 && d.Comparison.Failed(failOn)
}

// diffPairs are the kernel pairs a diff compares: baseline name in the old
// run, candidate name in the new.
func diffPairs(old, new DiffSide, o DiffOptions) ([][2]string, error) {
	bad := func(format string, args ...any) error { return &BadDiffError{fmt.Sprintf(format, args...)} }
	var pairs [][2]string
	switch {
	case o.Kernel != "" && (o.OldKernel != "" || o.NewKernel != ""):
		return nil, bad("give --kernel or --old-kernel/--new-kernel, not both")
	case o.Kernel != "":
		pairs = [][2]string{{o.Kernel, o.Kernel}}
	case o.OldKernel != "" || o.NewKernel != "":
		if o.OldKernel == "" || o.NewKernel == "" {
			return nil, bad("--old-kernel and --new-kernel go together")
		}
		pairs = [][2]string{{o.OldKernel, o.NewKernel}}
	default:
		for _, k := range new.Run.Kernels {
			if runKernel(old.Run, k.Name) != nil {
				pairs = append(pairs, [2]string{k.Name, k.Name})
			}
		}
		if len(pairs) == 0 {
			return nil, bad("%s and %s have no kernel name in common (%s / %s); name them with --old-kernel and --new-kernel",
				old.Path, new.Path, strings.Join(kernelNames(old.Run), ", "), strings.Join(kernelNames(new.Run), ", "))
		}
	}
	for _, p := range pairs {
		if runKernel(old.Run, p[0]) == nil {
			return nil, bad("%s has no kernel %q (it has %s)", old.Path, p[0], strings.Join(kernelNames(old.Run), ", "))
		}
		if runKernel(new.Run, p[1]) == nil {
			return nil, bad("%s has no kernel %q (it has %s)", new.Path, p[1], strings.Join(kernelNames(new.Run), ", "))
		}
	}
	return pairs, nil
}

// mixedMachines says how two runs' machines differ in what moves timings:
// the accelerator, the CPU model, the QEMU version, the host. Empty: alike.
func mixedMachines(a, b *Run) string {
	var d []string
	if a.Accel != b.Accel {
		d = append(d, fmt.Sprintf("accelerator (%s vs %s)", a.Accel, b.Accel))
	}
	if a.Host.CPUModel != b.Host.CPUModel {
		d = append(d, fmt.Sprintf("CPU (%s vs %s)", a.Host.CPUModel, b.Host.CPUModel))
	}
	if a.Host.QEMUVersion != b.Host.QEMUVersion {
		d = append(d, fmt.Sprintf("QEMU (%s vs %s)", a.Host.QEMUVersion, b.Host.QEMUVersion))
	}
	if a.Host.Hostname != b.Host.Hostname {
		d = append(d, fmt.Sprintf("host (%s vs %s)", a.Host.Hostname, b.Host.Hostname))
	}
	return strings.Join(d, ", ")
}

func runKernel(run *Run, name string) *Kernel {
	for i := range run.Kernels {
		if run.Kernels[i].Name == name {
			return &run.Kernels[i]
		}
	}
	return nil
}

func kernelNames(run *Run) []string {
	var n []string
	for _, k := range run.Kernels {
		n = append(n, k.Name)
	}
	return n
}
