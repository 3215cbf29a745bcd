package results

import (
	"fmt"
	"io"
	"strings"
)

// Repro is what a reproducer directory says about one finding of a run: a
// decided change of one metric, or a kernel's fault.
type Repro struct {
	Run    *Run
	Kernel *KernelResult
	// Baseline is the kernel it was compared against; Alpha the level of
	// the comparison.
	Baseline string
	Alpha    float64
	// Metric is the finding; nil for a fault (Kernel.Faults).
	Metric *MetricResult
	// Scenario is the scenario that measured it (its results' name) and
	// ScenarioCommand the kvet scenario command that runs it with the
	// run's parameters on bare metal.
	Scenario, ScenarioCommand string
	// Traces are the traced boots' traces copied beside it.
	Traces []ReproTrace
	// Files are the directory's other files, relative to it, with what
	// each holds.
	Files [][2]string
}

// ReproTrace is one kernel's trace of the finding's scenario.
type ReproTrace struct {
	Kernel string
	TraceFile
}

// WriteReproREADME writes the reproducer's README: what was seen, how to
// see it again in a VM and on bare metal, and what the files are.
func WriteReproREADME(w io.Writer, r *Repro) error {
	var b strings.Builder
	k := r.Kernel
	what := "a kernel fault"
	if r.Metric != nil {
		what = "`" + r.Metric.Key + "`"
	}
	fmt.Fprintf(&b, "# %s on %s against %s\n\n", what, k.Kernel, r.Baseline)
	fmt.Fprintf(&b, "Found by kvet run `%s` (%s, accel %s, profile %s) on %s: %s, %d CPUs, Linux %s, QEMU %s, kvet %s.\n\n",
		r.Run.ID, r.Run.Created.UTC().Format("2006-01-02 15:04 UTC"), r.Run.Accel, r.Run.Profile,
		r.Run.Host.Hostname, r.Run.Host.CPUModel, r.Run.Host.CPUs, r.Run.Host.Kernel, r.Run.Host.QEMUVersion, r.Run.Host.KvetVersion)
	b.WriteString("## What was seen\n\n")
	for _, f := range k.Faults {
		fmt.Fprintf(&b, "- **%s** (%s): %s\n", f, strings.Join(f.Boots, ", "), f.Reason)
		for _, l := range f.Decisive {
			fmt.Fprintf(&b, "  `%s`\n", strings.ReplaceAll(l, "`", "'"))
		}
	}
	if m := r.Metric; m != nil {
		fmt.Fprintf(&b, "| | %s | %s |\n|---|---|---|\n", r.Baseline, k.Kernel)
		fmt.Fprintf(&b, "| median | %s | %s |\n", medianString(m.Base, m.BaseMedian, m.Unit), medianString(m.Cand, m.CandMedian, m.Unit))
		fmt.Fprintf(&b, "| per boot | %s | %s |\n", valuesString(m.Base, m.Unit), valuesString(m.Cand, m.Unit))
		fmt.Fprintf(&b, "| boots | %s | %s |\n\n", strings.Join(m.BaseBoots, " "), strings.Join(m.CandBoots, " "))
		fmt.Fprintf(&b, "Verdict: **%s**", m.Verdict)
		if m.Reason != "" {
			fmt.Fprintf(&b, " (%s)", m.Reason)
		}
		fmt.Fprintf(&b, ". Shift %s, confidence interval %s, p %s, q %s after Benjamini-Hochberg at alpha %.2g; threshold %g%%; %s is better.\n\n",
			changeString(m), ciString(m), pString(m.P), pString(m.Q), r.Alpha, m.Threshold*100, m.Better)
	}
	if len(k.Changes) > 0 {
		b.WriteString("The kernels differ in (as the guests reported them):\n\n")
		for _, c := range k.Changes {
			fmt.Fprintf(&b, "- %s `%s`: %s -> %s\n", c.Kind, c.Key, orUnset(c.Base), orUnset(c.Cand))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Reproduce it in a VM\n\n")
	b.WriteString("With kvet (https://github.com/kvet/kvet) on a Debian-like host:\n\n```sh\nkvet run matrix.yaml\n```\n\n")
	b.WriteString("`matrix.yaml` boots the two kernels above (the packages as resolved in the run, with their command lines and sysctls) and runs only this scenario, with the run's parameters, in interleaved boots until the change is decided, then traces each kernel once if it is (`trace: on-change`).\n\n")
	if r.ScenarioCommand != "" {
		b.WriteString("## Reproduce it on bare metal\n\n")
		fmt.Fprintf(&b, "Boot each kernel on the machine in turn and run, as root:\n\n```sh\n%s\n```\n\n", r.ScenarioCommand)
		b.WriteString("It runs the same code as the VM's guest and prints the same metrics; compare the two kernels' output.\n\n")
	}
	if len(r.Traces) > 0 {
		b.WriteString("## Traces\n\n")
		b.WriteString("One extra boot of each kernel ran the scenario under the kernel's event tracer (it measured nothing). ")
		b.WriteString("Each file is ftrace's text output, gzip-compressed: open it in https://ui.perfetto.dev (Open trace file), or read it with `zcat`.\n\n")
		for _, t := range r.Traces {
			fmt.Fprintf(&b, "- `%s`: %s, %s, %d events (%s)", t.File, t.Kernel, t.Scenario, t.Events, strings.Join(t.Enabled, ", "))
			if t.Truncated {
				b.WriteString("; cut at the guest's cap")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("## Files\n\n")
	for _, f := range r.Files {
		fmt.Fprintf(&b, "- `%s`: %s\n", f[0], f[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func valuesString(vals []float64, unit string) string {
	var s []string
	for _, v := range vals {
		s = append(s, FormatValue(v, unit))
	}
	return strings.Join(s, ", ")
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}
