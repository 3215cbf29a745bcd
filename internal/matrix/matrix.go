// Package matrix owns the matrix file: which kernels to boot, which is the
// baseline, which scenarios to run with which parameters, and how. Decoding
// is strict: an unknown field, a wrong type or a bad value is an error that
// names the file and the line.
package matrix

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
	"github.com/kvet/kvet/scenarios"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultName is the file name shown for the embedded default matrix.
const DefaultName = "<default matrix>"

// Default returns the embedded default matrix.
func Default() (*Matrix, error) { return Parse(DefaultName, defaultYAML) }

// DefaultYAML returns the embedded default matrix's text.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Matrix is a parsed, defaulted and validated matrix file.
type Matrix struct {
	// Archive: where packages come from; empty means the host's apt sources.
	kernels.Archive `yaml:",inline"`
	// Baseline names the kernel every other is compared against (default: the first).
	Baseline string `yaml:"baseline,omitempty"`
	// Boots per kernel: a number, or auto (the default; see Auto).
	Boots BootCount `yaml:"boots,omitempty"`
	// Round is the boots per kernel of each round of an adaptive run
	// (default 3), MaxBoots the most boots a kernel gets in one (default
	// 9), and Budget the time after which no new round starts (default
	// 15m). They go with boots: auto only.
	Round    int      `yaml:"round,omitempty"`
	MaxBoots int      `yaml:"max_boots,omitempty"`
	Budget   Duration `yaml:"budget,omitempty"`
	// Profile is quick (seconds per scenario) or full (minutes). Default quick.
	Profile string `yaml:"profile,omitempty"`
	// Accel is auto, kvm or tcg (default auto).
	Accel string `yaml:"accel,omitempty"`
	// Trace is when the run adds a traced boot per kernel after its
	// measurement boots: off (default), always, or on-change (the baseline
	// and each kernel with a decided change).
	Trace string `yaml:"trace,omitempty"`
	// CPUs per guest (default 2) and Memory per guest in MiB (default 1024).
	CPUs   int `yaml:"cpus,omitempty"`
	Memory int `yaml:"memory,omitempty"`
	// Timeout per boot (default 10m).
	Timeout Duration `yaml:"timeout,omitempty"`
	// Parallel guests at once (default 0: as many as the host's CPUs allow).
	Parallel int `yaml:"parallel,omitempty"`
	// QEMUNice is the nice value of every QEMU thread (vCPUs, main loop,
	// I/O), -20..19; 0 (the default) leaves them at kvet's own. A negative
	// one keeps the host's other processes from delaying the guest and
	// needs root or CAP_SYS_NICE.
	QEMUNice int `yaml:"qemu_nice,omitempty"`
	// Seed orders the boot plan and seeds the scenarios (default: from the clock, recorded).
	Seed int64 `yaml:"seed,omitempty"`
	// Kernels to boot; at least one.
	Kernels []kernels.Spec `yaml:"kernels"`
	// Scenarios to run, in order (default: the whole suite).
	Scenarios []Scenario `yaml:"scenarios,omitempty"`
	// Thresholds override the relative threshold for metric keys
	// ("scenario/metric", globs allowed), e.g. {"timer/*.p99": "20%"}.
	Thresholds map[string]Percent `yaml:"thresholds,omitempty"`
	// FailOn lists the verdicts that fail the run (default [regression]).
	FailOn []string `yaml:"fail_on,omitempty"`

	// File is where the matrix came from.
	File string `yaml:"-"`
}

// Scenario is one entry of the scenarios list: a name, or a name with
// parameter overrides.
type Scenario struct {
	Name string
	// Label names the entry's results instead of Name; two entries of one
	// scenario need distinct labels (see Label in label.go).
	Label string
	// Params is the scenario's parameter struct, defaults for the profile
	// with the file's overrides applied and validated.
	Params any
	// Overrides is the raw override node, kept to re-apply for another profile.
	node *yaml.Node
	line int
	file string // the matrix file, whose folder relative paths start from
}

// MarshalYAML writes the scenario back as name + params.
func (s Scenario) MarshalYAML() (any, error) {
	if s.node == nil && s.Label == "" {
		return s.Name, nil
	}
	out := map[string]any{"name": s.Name}
	if s.Label != "" {
		out["label"] = s.Label
	}
	if s.node != nil {
		out["params"] = s.node
	}
	return out, nil
}

// UnmarshalYAML accepts "timer" or {name: timer, params: {...}}.
func (s *Scenario) UnmarshalYAML(n *yaml.Node) error {
	s.line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		s.Name = n.Value
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch k.Value {
			case "name":
				s.Name = v.Value
			case "label":
				s.Label = v.Value
			case "params":
				if v.Kind != yaml.MappingNode {
					return &Error{Line: v.Line, Msg: "params: want a mapping"}
				}
				s.node = v
			default:
				return &Error{Line: k.Line, Msg: fmt.Sprintf("scenario entry: unknown field %q (want name, label, params)", k.Value)}
			}
		}
		return nil
	}
	return &Error{Line: n.Line, Msg: "scenario entry: want a name or {name, label, params}"}
}

// Duration is a time.Duration written as "90s" or "10m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("bad duration %q (want e.g. 90s, 10m)", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Percent is a relative threshold written "5%" or 0.05.
type Percent float64

// UnmarshalYAML parses "5%" or a fraction.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	div := 1.0
	if strings.HasSuffix(s, "%") {
		s, div = strings.TrimSuffix(s, "%"), 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v/div >= 10 {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("bad threshold %q (want e.g. 5%% or 0.05)", n.Value)}
	}
	*p = Percent(v / div)
	return nil
}

// Error is a problem in a matrix file, at a line (0: the whole file).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and parses a matrix file.
func Load(path string) (*Matrix, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > MaxMatrixBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("%d bytes: a matrix file is at most %d", fi.Size(), MaxMatrixBytes)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml error into Errors naming the file and line.
func yamlError(file string, err error) error {
	var me *Error
	if errors.As(err, &me) {
		me.File = file
		return me
	}
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			line, _ := strconv.Atoi(g[1])
			errs = append(errs, &Error{File: file, Line: line, Msg: g[2]})
		} else {
			errs = append(errs, &Error{File: file, Msg: strings.TrimPrefix(m, "yaml: ")})
		}
	}
	return errors.Join(errs...)
}

// Parse decodes, defaults and validates a matrix.
func Parse(file string, data []byte) (*Matrix, error) {
	if len(data) > MaxMatrixBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("%d bytes: a matrix file is at most %d", len(data), MaxMatrixBytes)}
	}
	var m Matrix
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		if err.Error() == "EOF" {
			return nil, &Error{File: file, Msg: "empty matrix file"}
		}
		return nil, yamlError(file, err)
	}
	// A second pass over the node tree only locates lines for the checks below.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, err)
	}
	m.File = file
	if err := m.fill(&root); err != nil {
		return nil, err
	}
	return &m, nil
}

// lines finds the line of each kernel entry and of top-level keys.
type lines struct {
	top     map[string]int
	kernels []int
}

func locate(root *yaml.Node) lines {
	l := lines{top: map[string]int{}}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return l
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		l.top[k.Value] = k.Line
		if k.Value == "kernels" && v.Kind == yaml.SequenceNode {
			for _, e := range v.Content {
				l.kernels = append(l.kernels, e.Line)
			}
		}
	}
	return l
}

// Defaults.
const (
	DefaultCPUs    = runner.DefaultCPUs
	DefaultMemory  = runner.DefaultMemoryMB
	DefaultTimeout = Duration(runner.DefaultTimeout)
)

var kernelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+@-]*$`)

func (m *Matrix) fill(root *yaml.Node) error {
	ln := locate(root)
	bad := func(key, format string, args ...any) error {
		return &Error{File: m.File, Line: ln.top[key], Msg: fmt.Sprintf(format, args...)}
	}
	if err := m.explicitZero(ln); err != nil {
		return err
	}
	if err := CheckMirror(m.Mirror); err != nil {
		return bad("mirror", "%v", err)
	}
	if len(m.Kernels) > MaxKernels {
		return bad("kernels", "%d kernels: at most %d", len(m.Kernels), MaxKernels)
	}
	if err := m.fillBoots(bad); err != nil {
		return err
	}
	if m.Profile == "" {
		m.Profile = scenarios.Quick
	}
	if m.Profile != scenarios.Quick && m.Profile != scenarios.Full {
		return bad("profile", "profile: %q (want quick or full)", m.Profile)
	}
	if m.Accel == "" {
		m.Accel = "auto"
	}
	switch m.Accel {
	case "auto", "kvm", "tcg":
	default:
		return bad("accel", "accel: %q (want auto, kvm or tcg)", m.Accel)
	}
	if err := CheckTrace(m.Trace); err != nil {
		return bad("trace", "%v", err)
	}
	if m.CPUs == 0 {
		m.CPUs = DefaultCPUs
	}
	if m.CPUs < 1 || m.CPUs > MaxCPUs {
		return bad("cpus", "cpus: %d is out of range 1..%d", m.CPUs, MaxCPUs)
	}
	if m.Memory == 0 {
		m.Memory = DefaultMemory
	}
	if m.Memory < MinMemory {
		return bad("memory", "memory: %d MiB is too little (at least %d)", m.Memory, MinMemory)
	}
	if m.Timeout == 0 {
		m.Timeout = DefaultTimeout
	}
	if m.Parallel < 0 {
		return bad("parallel", "parallel: %d is negative", m.Parallel)
	}
	if m.QEMUNice < -20 || m.QEMUNice > 19 {
		return bad("qemu_nice", "qemu_nice: %d is out of range -20..19", m.QEMUNice)
	}
	if len(m.Kernels) == 0 {
		return bad("kernels", "no kernels: list at least one under kernels:")
	}
	seen := map[string]bool{}
	for i := range m.Kernels {
		k := &m.Kernels[i]
		line := 0
		if i < len(ln.kernels) {
			line = ln.kernels[i]
		}
		if err := CheckKernel(k); err != nil {
			return &Error{File: m.File, Line: line, Msg: fmt.Sprintf("kernel %d: %v", i+1, err)}
		}
		if seen[k.Name] {
			return &Error{File: m.File, Line: line, Msg: fmt.Sprintf("kernel %q is listed twice (give each entry its own name)", k.Name)}
		}
		if f := k.Config.From; f != "" && !seen[f] {
			return &Error{File: m.File, Line: line, Msg: fmt.Sprintf("kernel %s: config from %q: no kernel of that name is listed before it", k.Name, f)}
		}
		seen[k.Name] = true
	}
	if m.Baseline == "" {
		m.Baseline = m.Kernels[0].Name
	}
	if !seen[m.Baseline] {
		return bad("baseline", "baseline %q is not one of the kernels", m.Baseline)
	}
	if len(m.Scenarios) == 0 {
		for _, s := range scenarios.All() {
			if !s.OnRequest { // runs only when named (exec needs a program)
				m.Scenarios = append(m.Scenarios, Scenario{Name: s.Name})
			}
		}
	}
	for i := range m.Scenarios {
		if err := m.Scenarios[i].resolve(m.File, m.Profile); err != nil {
			return err
		}
	}
	if err := checkLabels(m.File, m.Scenarios); err != nil {
		return err
	}
	if len(m.FailOn) == 0 {
		m.FailOn = []string{string(results.Regression)}
	}
	if _, err := m.Verdicts(); err != nil {
		return bad("fail_on", "fail_on: %v", err)
	}
	return nil
}

// CheckKernel validates one kernel spec.
func CheckKernel(k *kernels.Spec) error {
	if k.Name == "" {
		return fmt.Errorf("no name")
	}
	if !kernelName.MatchString(k.Name) {
		return fmt.Errorf("name %q: use letters, digits and . _ + @ -", k.Name)
	}
	var src []string
	for _, s := range []struct{ n, v string }{{"package", k.Package}, {"series", k.Series}, {"deb", k.Deb}, {"vmlinuz", k.Vmlinuz}, {"source", k.Source}} {
		if s.v != "" {
			src = append(src, s.n)
		}
	}
	switch len(src) {
	case 0:
		return fmt.Errorf("%s: no source (set one of package, series, deb, vmlinuz, source)", k.Name)
	case 1:
	default:
		return fmt.Errorf("%s: several sources (%s): set exactly one", k.Name, strings.Join(src, ", "))
	}
	if k.Modules != "" && k.Vmlinuz == "" {
		return fmt.Errorf("%s: modules goes with vmlinuz", k.Name)
	}
	if !k.Config.IsZero() && k.Vmlinuz == "" && k.Source == "" {
		return fmt.Errorf("%s: config goes with vmlinuz or source", k.Name)
	}
	if k.Config.From != "" && k.Source == "" {
		return fmt.Errorf("%s: config from another kernel goes with source", k.Name)
	}
	if (k.Ref != "" || len(k.ConfigFragments) > 0) && k.Source == "" {
		return fmt.Errorf("%s: ref and config_fragments go with source", k.Name)
	}
	if (k.Mirror != "" || k.Suite != "" || k.Keyring != "") && k.Package == "" && k.Series == "" {
		return fmt.Errorf("%s: mirror, suite and keyring go with package or series", k.Name)
	}
	if k.Since != "" && k.Series == "" {
		return fmt.Errorf("%s: since goes with series", k.Name)
	}
	for _, u := range []string{k.Deb, k.Vmlinuz} {
		if isURL(u) && k.SHA256 == "" {
			return fmt.Errorf("%s: %s is fetched by URL and needs sha256:", k.Name, u)
		}
	}
	if k.SHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(k.SHA256) {
		return fmt.Errorf("%s: sha256 %q is not 64 lowercase hex digits", k.Name, k.SHA256)
	}
	for key := range k.Sysctl {
		if !regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_-]+)+$`).MatchString(key) {
			return fmt.Errorf("%s: sysctl %q is not a sysctl name like net.ipv4.tcp_slow_start_after_idle", k.Name, key)
		}
	}
	return nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// resolve fills Params from the scenario's defaults for the profile and the
// file's overrides, refusing unknown parameters and bad values with a line.
func (s *Scenario) resolve(file, profile string) error {
	spec, err := scenarios.Lookup(s.Name)
	if err != nil {
		return &Error{File: file, Line: s.line, Msg: err.Error()}
	}
	p := spec.Defaults(profile)
	if s.node != nil {
		if err := decodeStrict(s.node, p, s.Name); err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.File = file
				return e
			}
			return yamlError(file, err)
		}
	}
	if v, ok := p.(scenarios.Validator); ok {
		if err := v.Validate(); err != nil {
			line := s.line
			if s.node != nil {
				line = s.node.Line
			}
			return &Error{File: file, Line: line, Msg: fmt.Sprintf("scenario %s: %v", s.Name, err)}
		}
	}
	if r, ok := p.(interface{ ResolvePaths(dir string) error }); ok {
		if file != "" {
			s.file = file
		}
		if err := r.ResolvePaths(filepath.Dir(s.file)); err != nil {
			return &Error{File: file, Line: s.line, Msg: fmt.Sprintf("scenario %s: %v", s.Name, err)}
		}
	}
	s.Params = p
	return nil
}

// ParamsFor returns the scenario's parameters for another profile, keeping
// the file's overrides.
func (s *Scenario) ParamsFor(profile string) (any, error) {
	c := *s
	if err := c.resolve("", profile); err != nil {
		return nil, err
	}
	return c.Params, nil
}

// decodeStrict decodes a mapping node into the struct behind ptr, refusing
// keys that are not fields (yaml's Node.Decode ignores KnownFields).
func decodeStrict(n *yaml.Node, ptr any, scenario string) error {
	rv := reflect.ValueOf(ptr).Elem()
	rt := rv.Type()
	fields := map[string]int{}
	var names []string
	for i := 0; i < rt.NumField(); i++ {
		tag := strings.Split(rt.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			return &Error{Line: k.Line, Msg: fmt.Sprintf("scenario %s: unknown parameter %q (known: %s)", scenario, k.Value, strings.Join(names, ", "))}
		}
		if err := v.Decode(rv.Field(idx).Addr().Interface()); err != nil {
			return err
		}
	}
	return nil
}
