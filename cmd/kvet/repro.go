package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/results"
)

// cmdRepro writes a self-contained reproducer of one finding of a run.
func cmdRepro(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("repro", "RUNDIR --kernel NAME [--metric KEY] [--out DIR]", "write a reproducer directory for a finding of a run: what was seen, the matrix that reproduces it in a VM, the kvet scenario command for bare metal, the boots and console logs", stderr)
	kernel := fs.String("kernel", "", "the candidate kernel (default: the run's only one)")
	metric := fs.String("metric", "", "the metric key, scenario/metric (default: the kernel's fault, or its largest decided change)")
	out := fs.String("out", "", "the reproducer directory (default repro-KERNEL)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	d, run, boots, err := openRunArg("repro", fs, pos)
	if err != nil {
		return err
	}
	m, err := matrix.OfRun(run)
	if err != nil {
		return badInput(err)
	}
	c, err := results.CompareRun(d, run, boots, m.ThresholdMap())
	if err != nil {
		return badInput(err)
	}
	r, err := findFinding(c, *kernel, *metric)
	if err != nil {
		return badInput(fmt.Errorf("repro %s: %w", pos[0], err))
	}
	r.Run = run
	if *out == "" {
		*out = "repro-" + r.Kernel.Kernel
	}
	if _, err := os.Stat(*out); err == nil {
		return badInputf("repro: %s exists; give another --out", *out)
	}
	traced, err := d.TracedBoots()
	if err != nil {
		return badInput(err)
	}
	if err := writeRepro(*out, pos[0], m, run, append(boots, traced...), r); err != nil {
		os.RemoveAll(*out)
		return infra(err)
	}
	fmt.Fprintf(stdout, "%s: reproducer of %s on %s written (README.md, matrix.yaml, boots, console logs, %d traces)\n", *out, r.Scenario, r.Kernel.Kernel, len(r.Traces))
	return nil
}

// findFinding picks the kernel and the finding: the metric asked for, else
// the kernel's fault, else its largest decided change.
func findFinding(c *results.Comparison, kernel, metric string) (*results.Repro, error) {
	var k *results.KernelResult
	var names []string
	for i := range c.Kernels {
		names = append(names, c.Kernels[i].Kernel)
		if c.Kernels[i].Kernel == kernel || kernel == "" && len(c.Kernels) == 1 {
			k = &c.Kernels[i]
		}
	}
	if k == nil {
		return nil, fmt.Errorf("--kernel %q: want one of %s", kernel, strings.Join(names, ", "))
	}
	r := &results.Repro{Kernel: k, Baseline: c.BaselineOf(k), Alpha: c.Alpha}
	if k.Alpha > 0 {
		r.Alpha = k.Alpha
	}
	for i := range k.Metrics {
		mr := &k.Metrics[i]
		switch {
		case metric != "" && mr.Key == metric:
			r.Metric = mr
		case metric == "" && len(k.Faults) == 0 && (mr.Verdict == results.Regression || mr.Verdict == results.Improvement):
			if r.Metric == nil || logSize(mr.Ratio) > logSize(r.Metric.Ratio) {
				r.Metric = mr
			}
		}
	}
	switch {
	case metric != "" && r.Metric == nil:
		return nil, fmt.Errorf("--metric %q: %s has no such metric", metric, k.Kernel)
	case r.Metric == nil && len(k.Faults) == 0:
		return nil, fmt.Errorf("%s: no fault and no decided change; name one with --metric", k.Kernel)
	case r.Metric != nil:
		r.Scenario = r.Metric.Scenario
	}
	return r, nil
}

// logSize is how far a ratio is from 1, either way (0 when unestimated).
func logSize(r float64) float64 {
	if r <= 0 {
		return 0
	}
	return math.Abs(math.Log(r))
}

// writeRepro writes the directory: matrix.yaml, the two kernels' boots and
// consoles, their traces of the finding's scenario (of every scenario for a
// fault), and the README.
func writeRepro(out, runDir string, m *matrix.Matrix, run *results.Run, boots []*results.Boot, r *results.Repro) error {
	for _, sub := range []string{out, filepath.Join(out, results.BootsDir), filepath.Join(out, results.ConsoleDir), filepath.Join(out, results.TracesDir)} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
	}
	rm, err := reproMatrix(m, run, r)
	if err != nil {
		return err
	}
	y, err := yaml.Marshal(rm)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Reproduces %s on %s against %s (kvet run %s).\n", orFault(r), r.Kernel.Kernel, r.Baseline, run.ID)
	if err := os.WriteFile(filepath.Join(out, "matrix.yaml"), append([]byte(header), y...), 0o644); err != nil {
		return err
	}
	r.Files = append(r.Files, [2]string{"matrix.yaml", "the matrix for `kvet run`"})
	for _, b := range boots {
		if b.Kernel != r.Kernel.Kernel && b.Kernel != r.Baseline {
			continue
		}
		files := []string{results.BootFile(b.Kernel, b.Index), b.ConsoleFile}
		if b.Traced {
			files = []string{b.ConsoleFile}
			for _, tr := range b.Traces {
				if tr.File != "" && (r.Scenario == "" || tr.Scenario == r.Scenario) {
					files = append(files, tr.File)
					r.Traces = append(r.Traces, results.ReproTrace{Kernel: b.Kernel, TraceFile: tr})
				}
			}
		}
		for _, f := range files {
			if f == "" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(runDir, f))
			if err != nil {
				continue // a console the boot never wrote
			}
			if err := os.WriteFile(filepath.Join(out, f), data, 0o644); err != nil {
				return err
			}
		}
	}
	if r.Scenario != "" {
		r.ScenarioCommand = scenarioCommand(m, run, r.Scenario)
	}
	r.Files = append(r.Files, [2]string{"boots/KERNEL.NNN.json", "every boot of both kernels as kvet recorded it: outcome, kernel facts, metrics and histograms"},
		[2]string{"console/KERNEL.NNN.log", "each boot's console"})
	var buf bytes.Buffer
	if err := results.WriteReproREADME(&buf, r); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "README.md"), buf.Bytes(), 0o644)
}

func orFault(r *results.Repro) string {
	if r.Metric == nil {
		return "a kernel fault"
	}
	return r.Metric.Key
}

// reproMatrix is the run's matrix cut to the baseline, the kernel and the
// finding's scenario, each kernel pinned to the package the run resolved.
func reproMatrix(m *matrix.Matrix, run *results.Run, r *results.Repro) (*matrix.Matrix, error) {
	out := *m
	out.Kernels, out.Scenarios, out.Seed, out.Baseline = nil, nil, 0, r.Baseline
	out.Trace = matrix.TraceOnChange
	for _, name := range []string{r.Baseline, r.Kernel.Kernel} {
		spec, ok := specOf(m, name)
		if !ok {
			return nil, fmt.Errorf("kernel %s is not in the run's matrix", name)
		}
		spec.Name = name
		for _, k := range run.Kernels {
			if k.Name == name && k.Package != "" && (spec.Package != "" || spec.Series != "") {
				spec.Package, spec.Series, spec.Since = k.Package, "", ""
			}
		}
		out.Kernels = append(out.Kernels, spec)
	}
	for _, s := range m.Scenarios {
		if r.Scenario == "" || s.ResultName() == r.Scenario {
			out.Scenarios = append(out.Scenarios, s)
		}
	}
	return &out, nil
}

// specOf finds a kernel's matrix entry; a series member NAME@VERSION is
// its series' entry.
func specOf(m *matrix.Matrix, name string) (spec kernels.Spec, ok bool) {
	for _, k := range m.Kernels {
		if k.Name == name || strings.HasPrefix(name, k.Name+"@") && k.Series != "" {
			return k, true
		}
	}
	return spec, false
}

// scenarioCommand is the kvet scenario command with the parameters the
// run's matrix gave the scenario whose results are called name.
func scenarioCommand(m *matrix.Matrix, run *results.Run, name string) string {
	for _, s := range m.Scenarios {
		if s.ResultName() != name {
			continue
		}
		var node yaml.Node
		if err := node.Encode(s.Params); err != nil || node.Kind != yaml.MappingNode {
			return ""
		}
		cmd := "kvet scenario " + s.Name + " --profile " + run.Profile
		for i := 0; i+1 < len(node.Content); i += 2 {
			v := node.Content[i+1]
			v.Style = yaml.FlowStyle
			for _, c := range v.Content {
				c.Style = yaml.FlowStyle
			}
			b, err := yaml.Marshal(v)
			if err != nil {
				return ""
			}
			val := strings.TrimSpace(string(b))
			cmd += " --param '" + node.Content[i].Value + "=" + strings.ReplaceAll(val, "'", `'\''`) + "'"
		}
		return cmd
	}
	return ""
}
