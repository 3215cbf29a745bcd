package results

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// Report files written into every run directory.
const (
	ReportMarkdown = "report.md"
	ReportJSON     = "report.json"
	ReportHTML     = "report.html"
	ReportJUnit    = "junit.xml"
	ReportBench    = "bench.txt"
	HistogramDir   = "histograms"
)

// Formats are the report formats Render writes, in the order help texts
// name them.
var Formats = []string{"text", "markdown", "json", "junit", "html"}

// CheckFormat refuses a format Render does not know.
func CheckFormat(f string) error {
	if !slices.Contains(Formats, f) {
		return fmt.Errorf("--format %q: want one of %s", f, strings.Join(Formats, ", "))
	}
	return nil
}

// Render writes a comparison in one of Formats ("" is text). run may be
// nil; boots feed the HTML report's distributions.
func Render(w io.Writer, format string, c *Comparison, run *Run, boots []*Boot, color bool) error {
	switch format {
	case "markdown":
		return WriteMarkdown(w, c, run)
	case "json":
		return WriteJSON(w, c)
	case "junit":
		return WriteJUnit(w, c, boots)
	case "html":
		return WriteHTML(w, c, run, boots)
	case "text", "":
		return WriteText(w, c, run, color)
	}
	return fmt.Errorf("unknown report format %q", format)
}

// WriteReports writes every report of a comparison into the run directory;
// report.html links the run's traces.
func WriteReports(d *Dir, run *Run, boots []*Boot, c *Comparison) error {
	traced, err := d.TracedBoots()
	if err != nil {
		return err
	}
	withTraces := append(slices.Clone(boots), traced...)
	render := func(name string, f func(w io.Writer) error) error {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return d.WriteFile(name, buf.Bytes())
	}
	errs := []error{
		render(ReportMarkdown, func(w io.Writer) error { return WriteMarkdown(w, c, run) }),
		render(ReportJSON, func(w io.Writer) error { return WriteJSON(w, c) }),
		render(ReportHTML, func(w io.Writer) error { return WriteHTML(w, c, run, withTraces) }),
		render(ReportJUnit, func(w io.Writer) error { return WriteJUnit(w, c, boots) }),
		render(ReportBench, func(w io.Writer) error {
			for _, k := range run.Kernels {
				if err := WriteBenchmarks(w, k.Name, boots); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	for _, k := range run.Kernels {
		errs = append(errs, render(filepath.Join(HistogramDir, k.Name+".hlog"), func(w io.Writer) error {
			return WriteHistogramLog(w, k.Name, boots)
		}))
	}
	return errors.Join(errs...)
}

// KernelFailed reports whether any boot failed through the kernel's fault.
func KernelFailed(boots []*Boot) bool {
	for _, b := range boots {
		if b.Outcome.KernelFault() {
			return true
		}
	}
	return false
}
