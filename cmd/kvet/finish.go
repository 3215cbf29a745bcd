package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kvet/kvet/images"
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/kernels/apt"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios"
)

// Report files written into every run directory.
const (
	reportMarkdown = "report.md"
	reportJSON     = "report.json"
	reportHTML     = "report.html"
	reportJUnit    = "junit.xml"
	reportBench    = "bench.txt"
	histogramDir   = "histograms"
)

// compareRun compares a run's boots with the matrix's thresholds.
func compareRun(run *results.Run, boots []*results.Boot, thresholds map[string]float64) *results.Comparison {
	return results.Compare(run.Baseline, boots, results.CompareOptions{Thresholds: thresholds, Kernels: run.Kernels})
}

func thresholdsOf(m *matrix.Matrix) map[string]float64 {
	t := map[string]float64{}
	for k, v := range m.Thresholds {
		t[k] = float64(v)
	}
	return t
}

// writeReports writes every report of a comparison into the run directory.
func writeReports(d *results.Dir, run *results.Run, boots []*results.Boot, c *results.Comparison) error {
	render := func(name string, f func(w io.Writer) error) error {
		var buf bytes.Buffer
		if err := f(&buf); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return d.WriteFile(name, buf.Bytes())
	}
	errs := []error{
		render(reportMarkdown, func(w io.Writer) error { return results.WriteMarkdown(w, c, run) }),
		render(reportJSON, func(w io.Writer) error { return results.WriteJSON(w, c) }),
		render(reportHTML, func(w io.Writer) error { return results.WriteHTML(w, c, run, boots) }),
		render(reportJUnit, func(w io.Writer) error { return results.WriteJUnit(w, c) }),
		render(reportBench, func(w io.Writer) error {
			for _, k := range run.Kernels {
				if err := results.WriteBenchmarks(w, k.Name, boots); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	for _, k := range run.Kernels {
		errs = append(errs, render(filepath.Join(histogramDir, k.Name+".hlog"), func(w io.Writer) error {
			return results.WriteHistogramLog(w, k.Name, boots)
		}))
	}
	return errors.Join(errs...)
}

// finishRun compares the recorded boots, writes the reports, prints the
// verdict and decides the exit code.
func finishRun(stdout, stderr io.Writer, d *results.Dir, run *results.Run, m *matrix.Matrix, failOn []string, infraErrors, quiet bool, format string) error {
	boots, err := d.Boots()
	if err != nil {
		return infra(err)
	}
	if run.Shard != "" {
		fmt.Fprintf(stdout, "shard %s of run %s: %d boots recorded in %s; merge the shards with: kvet merge -out DIR SHARDDIRS...\n", run.Shard, run.ID, len(boots), d.Path)
		if infraErrors {
			return infra(errors.New("some boots failed for infrastructure reasons"))
		}
		return nil
	}
	c := compareRun(run, boots, thresholdsOf(m))
	if err := writeReports(d, run, boots, c); err != nil {
		return infra(fmt.Errorf("writing reports: %w", err))
	}
	if err := renderReport(stdout, format, c, run, boots, isTerminal(stdout) && os.Getenv("NO_COLOR") == ""); err != nil {
		return infra(err)
	}
	reports := stdout
	if format != "text" && format != "" {
		reports = stderr // stdout holds one document
	}
	fmt.Fprintf(reports, "\nreports: %s\n", filepath.Join(d.Path, reportHTML))
	var verdicts []results.Verdict
	for _, v := range failOn {
		verdicts = append(verdicts, results.Verdict(v))
	}
	switch {
	case kernelFailed(boots) || len(verdicts) > 0 && c.Failed(verdicts): // Failed(nil) means the default, not none
		return errFailed
	case infraErrors:
		return infra(errors.New("some boots failed for infrastructure reasons (see above); the verdicts rest on the others"))
	}
	return nil
}

// kernelFailed reports whether any boot failed through the kernel's fault.
func kernelFailed(boots []*results.Boot) bool {
	for _, b := range boots {
		if b.Outcome.KernelFault() {
			return true
		}
	}
	return false
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

// isInfraKernelError tells a fetch that failed on the way (network, a
// mirror, a signature or checksum that does not verify) from a kernel that
// is named wrongly or is not a kernel.
func isInfraKernelError(err error) bool {
	var (
		unreach  *apt.UnreachableError
		httpErr  *apt.HTTPError
		mismatch *apt.MismatchError
	)
	return errors.As(err, &unreach) || errors.As(err, &httpErr) || errors.As(err, &mismatch) ||
		errors.Is(err, kernels.ErrNoSources)
}
