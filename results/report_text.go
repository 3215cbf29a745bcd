package results

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

func verdictColor(v Verdict) string {
	switch v {
	case Regression:
		return ansiRed + ansiBold
	case Improvement:
		return ansiGreen
	case Inconclusive, Underpowered, NotComparable:
		return ansiYellow
	}
	return ansiDim
}

// WriteText renders the comparison as aligned tables for a terminal. color
// adds ANSI colours to the verdicts; the caller decides (a terminal, and
// NO_COLOR unset). run may be nil.
func WriteText(w io.Writer, c *Comparison, run *Run, color bool) error {
	paint := func(v Verdict, s string) string {
		if !color {
			return s
		}
		return verdictColor(v) + s + ansiReset
	}
	var b strings.Builder
	// The header fits the first screen's width, as the answer does.
	line := func(prefix, text string) {
		for _, l := range wrap(prefix, text) {
			b.WriteString(l + "\n")
		}
	}
	if run != nil {
		line("kvet run ", fmt.Sprintf("%s: %s, profile %s, accel %s, host %s (%s, QEMU %s)",
			run.ID, run.Created.UTC().Format("2006-01-02 15:04 UTC"), run.Profile, run.Accel, run.Host.Hostname, run.Host.CPUModel, run.Host.QEMUVersion))
	}
	line("baseline ", fmt.Sprintf("%s: %s; alpha %g (Benjamini-Hochberg, weighted: primary metrics share 80%%); SHIFT is the estimated ratio (of geometric means, of event rates for counts), CI at its achieved level",
		c.Baseline, bootsString(c.BaselineBoots), c.Alpha))
	for _, n := range c.Notes {
		line("note: ", n)
	}
	b.WriteString("\n")
	for _, l := range Answer(c) {
		b.WriteString(l + "\n")
	}
	for i := range c.Kernels {
		k := &c.Kernels[i]
		fmt.Fprintf(&b, "\n%s vs %s: %s (%s)\n", k.Kernel, c.BaselineOf(k), paint(k.Overall(), strings.ToUpper(string(k.Overall()))), summaryLine(k))
		fmt.Fprintf(&b, "  %s\n", bootsString(k.Boots))
		if k.BaseBoots != nil {
			fmt.Fprintf(&b, "  baseline %s: %s\n", k.Against, bootsString(*k.BaseBoots))
		}
		for _, f := range k.Faults {
			fmt.Fprintf(&b, "  %s %s: %s (%s)\n", paint(Regression, "REGRESSION"), f, f.Reason, strings.Join(f.Boots, " "))
			for _, l := range f.Decisive {
				fmt.Fprintf(&b, "    | %s\n", l)
			}
		}
		for _, n := range k.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
		if len(k.Changes) > 0 {
			fmt.Fprintf(&b, "  what changed: %s\n", changesString(k.Changes))
		}
		if len(k.Metrics) == 0 {
			continue
		}
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  METRIC\tBASE\tCAND\tN\tSHIFT\tCI\tP\tQ\tVERDICT")
		for j := range k.Metrics {
			m := &k.Metrics[j]
			verdict := paint(m.Verdict, string(m.Verdict))
			if m.Reason != "" {
				verdict += ": " + m.Reason
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\n", m.Key,
				medianString(m.Base, m.BaseMedian, m.Unit), medianString(m.Cand, m.CandMedian, m.Unit), len(m.Base), len(m.Cand),
				changeString(m), ciString(m), pString(m.P), pString(m.Q), verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
