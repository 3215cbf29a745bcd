package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/results"
)

// Suffixes that keep a kernel's boots from two runs apart in one comparison.
const (
	oldSuffix = "@old"
	newSuffix = "@new"
)

func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("diff", "OLD NEW [flags]", "compare two stored runs: each kernel of NEW against the kernel of the same name in OLD (or one kernel across both, with --kernel or --old-kernel/--new-kernel), with the verdicts of kvet run", stderr)
	kernel := fs.String("kernel", "", "compare only this kernel, OLD's boots against NEW's")
	oldKernel := fs.String("old-kernel", "", "the baseline kernel in OLD (with --new-kernel)")
	newKernel := fs.String("new-kernel", "", "the candidate kernel in NEW (with --old-kernel)")
	allowMixed := fs.Bool("allow-mixed", false, "compare timing metrics of runs from different hosts or accelerators (the report says so loudly)")
	format := fs.String("format", "text", "text, markdown, json, junit or html")
	out := fs.String("out", "", "write the report to this file instead of standard output")
	failOnFlag := fs.String("fail-on", "regression", "comma-separated verdicts that fail (exit 1), or none")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return badInputf("diff: want two run directories, OLD and NEW")
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	failOn, err := parseFailOn(*failOnFlag)
	if err != nil {
		return err
	}
	type side struct {
		dir   *results.Dir
		run   *results.Run
		boots []*results.Boot
	}
	var sides [2]side
	for i, p := range pos {
		d, r, err := results.OpenDir(p)
		if err != nil {
			return badInput(err)
		}
		boots, err := d.Boots()
		if err != nil {
			return badInput(err)
		}
		sides[i] = side{d, r, boots}
	}
	oldRun, newRun := sides[0].run, sides[1].run

	// The pairs: baseline name in OLD, candidate name in NEW.
	type pair struct{ old, new string }
	var pairs []pair
	switch {
	case *kernel != "" && (*oldKernel != "" || *newKernel != ""):
		return badInputf("diff: give --kernel or --old-kernel/--new-kernel, not both")
	case *kernel != "":
		pairs = []pair{{*kernel, *kernel}}
	case *oldKernel != "" || *newKernel != "":
		if *oldKernel == "" || *newKernel == "" {
			return badInputf("diff: --old-kernel and --new-kernel go together")
		}
		pairs = []pair{{*oldKernel, *newKernel}}
	default:
		for _, k := range newRun.Kernels {
			if runKernel(oldRun, k.Name) != nil {
				pairs = append(pairs, pair{k.Name, k.Name})
			}
		}
		if len(pairs) == 0 {
			return badInputf("diff: %s and %s have no kernel name in common (%s / %s); name them with --old-kernel and --new-kernel",
				pos[0], pos[1], strings.Join(kernelNames(oldRun), ", "), strings.Join(kernelNames(newRun), ", "))
		}
	}
	for _, p := range pairs {
		if runKernel(oldRun, p.old) == nil {
			return badInputf("diff: %s has no kernel %q (it has %s)", pos[0], p.old, strings.Join(kernelNames(oldRun), ", "))
		}
		if runKernel(newRun, p.new) == nil {
			return badInputf("diff: %s has no kernel %q (it has %s)", pos[1], p.new, strings.Join(kernelNames(newRun), ", "))
		}
	}

	// What makes timings incomparable, and what only deserves a warning.
	var notes []string
	if mixed := mixedMachines(oldRun, newRun); mixed != "" {
		if *allowMixed {
			fmt.Fprintf(stderr, "WARNING: TIMINGS COMPARED ACROSS MACHINES (--allow-mixed): %s; a timing change may be the machine's, not the kernel's\n", mixed)
		} else {
			fmt.Fprintf(stderr, "warning: the runs differ in %s: timing metrics are not compared (--allow-mixed compares them anyway); counts and kernel state are\n", mixed)
		}
	}
	if ov, nv := oldRun.Host.KvetVersion, newRun.Host.KvetVersion; ov != nv {
		n := fmt.Sprintf("kvet versions differ: %s ran %s, %s ran %s; scenario changes can move metrics", pos[0], ov, pos[1], nv)
		fmt.Fprintf(stderr, "warning: %s\n", n)
		notes = append(notes, n)
	}

	// One comparison per pair, the old boots renamed NAME@old and the new
	// NAME@new so that one kernel compares with itself across time.
	thresholds := runThresholds(newRun, stderr)
	var (
		cs       []*results.Comparison
		allBoots []*results.Boot
	)
	for _, p := range pairs {
		oldName, newName := p.old+oldSuffix, p.new+newSuffix
		var boots []*results.Boot
		for _, b := range sides[0].boots {
			if b.Kernel == p.old {
				c := *b
				c.Kernel = oldName
				boots = append(boots, &c)
			}
		}
		for _, b := range sides[1].boots {
			if b.Kernel == p.new {
				c := *b
				c.Kernel = newName
				c.Seq += len(oldRun.Plan) + len(sides[0].boots) // after every old boot
				boots = append(boots, &c)
			}
		}
		ok, nk := *runKernel(oldRun, p.old), *runKernel(newRun, p.new)
		ok.Name, nk.Name = oldName, newName
		c := results.Compare(oldName, boots, results.CompareOptions{
			Thresholds:      thresholds,
			AllowMixedAccel: *allowMixed,
			Kernels:         []results.Kernel{ok, nk},
			Hosts:           map[string]results.Host{oldName: oldRun.Host, newName: newRun.Host},
		})
		cs = append(cs, c)
		allBoots = append(allBoots, boots...)
	}
	c := cs[0]
	if len(cs) > 1 {
		c = results.Join(fmt.Sprintf("%s (run %s)", pos[0], oldRun.ID), cs)
	}
	c.Notes = append(notes, c.Notes...)

	var buf bytes.Buffer
	if *format == "text" {
		fmt.Fprintf(&buf, "kvet diff: %s (run %s, %s) -> %s (run %s, %s)\n", pos[0], oldRun.ID, oldRun.Created.UTC().Format("2006-01-02 15:04 UTC"),
			pos[1], newRun.ID, newRun.Created.UTC().Format("2006-01-02 15:04 UTC"))
	}
	color := *out == "" && isTerminal(stdout) && os.Getenv("NO_COLOR") == ""
	if err := renderReport(&buf, *format, c, nil, allBoots, color); err != nil {
		return infra(err)
	}
	if *out != "" {
		if err := results.WriteFileAtomic(*out, buf.Bytes()); err != nil {
			return infra(fmt.Errorf("diff: %w", err))
		}
	} else if _, err := stdout.Write(buf.Bytes()); err != nil {
		return infra(err)
	}
	if kernelFailed(filterKernels(allBoots, newSuffix)) || (len(failOn) > 0 && c.Failed(failOn)) {
		return errFailed
	}
	return nil
}

// reportFormats are the values of --format, in the order the help names them.
var reportFormats = []string{"text", "markdown", "json", "junit", "html"}

func checkFormat(f string) error {
	if !slices.Contains(reportFormats, f) {
		return badInputf("--format %q: want one of %s", f, strings.Join(reportFormats, ", "))
	}
	return nil
}

// renderReport writes a comparison in one of reportFormats. run may be nil;
// boots feed the HTML report's distributions.
func renderReport(w io.Writer, format string, c *results.Comparison, run *results.Run, boots []*results.Boot, color bool) error {
	switch format {
	case "markdown":
		return results.WriteMarkdown(w, c, run)
	case "json":
		return results.WriteJSON(w, c)
	case "junit":
		return results.WriteJUnit(w, c)
	case "html":
		return results.WriteHTML(w, c, run, boots)
	case "text", "":
		return results.WriteText(w, c, run, color)
	}
	return fmt.Errorf("unknown report format %q", format)
}

// parseFailOn reads --fail-on: verdict names, or none (an empty list).
func parseFailOn(s string) ([]results.Verdict, error) {
	vs, err := results.ParseFailOn(s)
	if err != nil {
		return nil, badInputf("--fail-on %q: %v", s, err)
	}
	return vs, nil
}

// mixedMachines says how two runs' machines differ in what moves timings:
// the accelerator, the CPU model, the QEMU version, the host. Empty: alike.
func mixedMachines(a, b *results.Run) string {
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

// runThresholds are the thresholds of a run's matrix; a run without a
// readable matrix uses the metrics' defaults.
func runThresholds(run *results.Run, stderr io.Writer) map[string]float64 {
	if run.Matrix == "" {
		return nil
	}
	m, err := matrix.Parse(filepath.Join("run "+run.ID, results.RunFile)+" (matrix)", []byte(run.Matrix))
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v; using the default thresholds\n", err)
		return nil
	}
	return thresholdsOf(m)
}

func runKernel(run *results.Run, name string) *results.Kernel {
	for i := range run.Kernels {
		if run.Kernels[i].Name == name {
			return &run.Kernels[i]
		}
	}
	return nil
}

func kernelNames(run *results.Run) []string {
	var n []string
	for _, k := range run.Kernels {
		n = append(n, k.Name)
	}
	return n
}

func filterKernels(boots []*results.Boot, suffix string) []*results.Boot {
	var out []*results.Boot
	for _, b := range boots {
		if strings.HasSuffix(b.Kernel, suffix) {
			out = append(out, b)
		}
	}
	return out
}
