package matrix

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
)

// Override replaces values of a matrix, as the command line does; a zero
// field keeps the matrix's value.
type Override struct {
	// Boots is a number or Auto; MaxBoots and Budget go with Auto.
	Boots    BootCount
	MaxBoots int
	Budget   time.Duration
	Accel    string
	Timeout  time.Duration
	Profile  string
	CPUs     int
	Memory   int
	Seed     int64
	Mirror   string
	Suite    string
	Keyring  string
	// Scenarios keeps only these scenarios, in this order; a name the
	// matrix does not list runs with its defaults.
	Scenarios []string
}

// Check refuses override values outside the ranges a matrix file accepts
// for the same settings (0 keeps the matrix's value), before there is a
// matrix to apply them to: a resumed run checks its flags too.
func (o Override) Check() error {
	bad := func(format string, args ...any) error {
		return &Error{File: OverrideFile, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case o.Boots < 0 && o.Boots != Auto || o.Boots > MaxBoots:
		return bad("boots: %d is out of range 1..%d (or auto)", o.Boots, MaxBoots)
	case o.MaxBoots < 0 || o.MaxBoots > MaxBoots:
		return bad("max_boots: %d is out of range 2..%d", o.MaxBoots, MaxBoots)
	case o.Budget < 0:
		return bad("budget: %s: want a positive duration", o.Budget)
	case o.CPUs < 0 || o.CPUs > MaxCPUs:
		return bad("cpus: %d is out of range 1..%d", o.CPUs, MaxCPUs)
	case o.Memory < 0 || o.Memory > 0 && o.Memory < MinMemory:
		return bad("memory: %d MiB is too little (at least %d)", o.Memory, MinMemory)
	case o.Timeout < 0:
		return bad("timeout: %s: want a positive duration", o.Timeout)
	}
	return CheckMirror(o.Mirror)
}

// OverrideFile is the file name errors give for a value an Override set.
const OverrideFile = "flags"

// Apply applies o and checks the result as a matrix file is checked:
// defaults are filled, scenario parameters follow a new profile, and a bad
// value is an *Error.
func (m *Matrix) Apply(o Override) error {
	if err := o.Check(); err != nil {
		return err
	}
	if o.Boots > 0 { // a fixed number: the adaptive settings go
		m.Boots, m.Round, m.MaxBoots, m.Budget = o.Boots, 0, 0, 0
	}
	if o.Boots == Auto && !m.Adaptive() {
		m.Boots = Auto
	}
	if o.MaxBoots != 0 {
		m.MaxBoots = o.MaxBoots
		m.Round = min(m.Round, m.MaxBoots)
	}
	if o.Budget != 0 {
		m.Budget = Duration(o.Budget)
	}
	if o.Accel != "" {
		m.Accel = o.Accel
	}
	if o.Timeout != 0 {
		m.Timeout = Duration(o.Timeout)
	}
	if o.Profile != "" {
		m.Profile = o.Profile
	}
	if o.CPUs != 0 {
		m.CPUs = o.CPUs
	}
	if o.Memory != 0 {
		m.Memory = o.Memory
	}
	if o.Seed != 0 {
		m.Seed = o.Seed
	}
	if o.Mirror != "" {
		m.Mirror = o.Mirror
	}
	if o.Suite != "" {
		m.Suite = o.Suite
	}
	if o.Keyring != "" {
		m.Keyring = o.Keyring
	}
	if len(o.Scenarios) > 0 {
		var keep []Scenario
		for _, name := range o.Scenarios {
			found := false
			for _, s := range m.Scenarios {
				if s.Name == name {
					keep = append(keep, s)
					found = true
				}
			}
			if !found {
				keep = append(keep, Scenario{Name: name})
			}
		}
		m.Scenarios = keep
	}
	file := m.File
	m.File = OverrideFile
	err := m.fill(&yaml.Node{})
	m.File = file
	return err
}

// FromKernelFiles is a matrix of kernel files (a linux-image .deb or a
// vmlinuz/bzImage each) with every other value at its default; the first
// kernel is the baseline. Each kernel is named after its file.
func FromKernelFiles(files []string) (*Matrix, error) {
	m := &Matrix{File: KernelFilesName}
	seen := map[string]int{}
	for _, f := range files {
		name := KernelNameFromFile(f)
		if pkg, suite, ok := PackageArg(f); ok {
			name = strings.TrimSuffix(KernelNameFromFile(strings.TrimPrefix(pkg, "linux-image-")+"-"+suite), "-")
		}
		seen[name]++
		if seen[name] > 1 {
			name = fmt.Sprintf("%s-%d", name, seen[name])
		}
		spec := kernels.Spec{Name: name, Vmlinuz: f}
		if strings.HasSuffix(f, ".deb") {
			spec = kernels.Spec{Name: name, Deb: f}
		} else if pkg, suite, ok := PackageArg(f); ok {
			spec = kernels.Spec{Name: name, Package: pkg, Archive: kernels.Archive{Suite: suite}}
		}
		m.Kernels = append(m.Kernels, spec)
	}
	if err := m.fill(&yaml.Node{}); err != nil {
		return nil, err
	}
	return m, nil
}

// PackageArg reads a kernel argument that is not a file as a package name
// with an optional suite, the way apt takes it: linux-image-cloud-amd64 or
// linux-image-cloud-amd64/trixie-backports.
func PackageArg(arg string) (pkg, suite string, ok bool) {
	if _, err := os.Stat(arg); err == nil || !strings.HasPrefix(arg, "linux-") {
		return "", "", false
	}
	pkg, suite, _ = strings.Cut(arg, "/")
	if pkg == "" || strings.ContainsAny(pkg, " \t") || strings.Contains(suite, "/") {
		return "", "", false
	}
	return pkg, suite, true
}

// KernelFilesName is the file name of a matrix made by FromKernelFiles.
const KernelFilesName = "--kernel"

// KernelNameFromFile names a kernel after its file: the package's version
// part for a .deb, the base name otherwise.
func KernelNameFromFile(path string) string {
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

// Verdicts are the verdicts that fail the run, read by the one parser that
// --fail-on and kvet diff use; none is the empty list.
func (m *Matrix) Verdicts() ([]results.Verdict, error) {
	return results.ParseFailOn(strings.Join(m.FailOn, ","))
}

// ThresholdMap is the matrix's thresholds as fractions by metric key.
func (m *Matrix) ThresholdMap() map[string]float64 {
	t := map[string]float64{}
	for k, v := range m.Thresholds {
		t[k] = float64(v)
	}
	return t
}

// RunThresholds are the thresholds of a run's own matrix; nil (the
// metrics' defaults) when the run has none, or with an error when it cannot
// be read.
func RunThresholds(run *results.Run) (map[string]float64, error) {
	if run.Matrix == "" {
		return nil, nil
	}
	m, err := OfRun(run)
	if err != nil {
		return nil, err
	}
	return m.ThresholdMap(), nil
}

// OfRun parses the matrix a run recorded in run.json.
func OfRun(run *results.Run) (*Matrix, error) {
	return Parse(filepath.Join("run "+run.ID, results.RunFile)+" (matrix)", []byte(run.Matrix))
}
