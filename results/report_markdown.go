package results

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown renders the comparison for a pull-request comment: a summary
// line per kernel, a table of what is not equivalent, and the full table in
// a collapsible block. run may be nil.
func WriteMarkdown(w io.Writer, c *Comparison, run *Run) error {
	var b strings.Builder
	icon := map[Verdict]string{Regression: ":x:", Improvement: ":rocket:", Inconclusive: ":grey_question:",
		Underpowered: ":grey_question:", NotComparable: ":warning:", Equivalent: ":white_check_mark:", Informational: ":information_source:"}
	b.WriteString("## kvet\n\n")
	if run != nil {
		fmt.Fprintf(&b, "Run `%s`, profile %s, accel %s, host %s (%s, QEMU %s).\n", run.ID, run.Profile, run.Accel, md(run.Host.Hostname), md(run.Host.CPUModel), md(run.Host.QEMUVersion))
	}
	fmt.Fprintf(&b, "Baseline **%s**: %s. Alpha %g after Benjamini-Hochberg, weighted: primary metrics share 80%%; shift is the estimated ratio, each interval at its achieved level.\n", md(c.Baseline), bootsString(c.BaselineBoots), c.Alpha)
	b.WriteString("\n**The answer**\n\n```\n")
	for _, l := range Answer(c) {
		b.WriteString(strings.ReplaceAll(l, "`", "'") + "\n")
	}
	b.WriteString("```\n")
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "\n> **Note:** %s\n", md(n))
	}
	for i := range c.Kernels {
		k := &c.Kernels[i]
		v := k.Overall()
		fmt.Fprintf(&b, "\n### %s %s vs %s: %s\n\n", icon[v], md(k.Kernel), md(c.BaselineOf(k)), v)
		fmt.Fprintf(&b, "%s (%s).\n", summaryLine(k), bootsString(k.Boots))
		for _, f := range k.Faults {
			fmt.Fprintf(&b, "\n- :x: **%s**: %s (%s)\n", f, md(f.Reason), md(strings.Join(f.Boots, ", ")))
		}
		for _, n := range k.Notes {
			fmt.Fprintf(&b, "\n> **Note:** %s\n", md(n))
		}
		if len(k.Changes) > 0 {
			b.WriteString("\n<details><summary>What changed</summary>\n\n| kind | key | baseline | candidate |\n|---|---|---|---|\n")
			for _, ch := range k.Changes {
				fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", ch.Kind, ch.Key, md(ch.Base), md(ch.Cand))
			}
			b.WriteString("\n</details>\n")
		}
		var notable []*MetricResult
		for j := range k.Metrics {
			if m := &k.Metrics[j]; m.Verdict != Equivalent && m.Verdict != Informational {
				notable = append(notable, m)
			}
		}
		if len(notable) > 0 {
			b.WriteString("\n")
			mdTable(&b, notable, icon)
		}
		all := make([]*MetricResult, len(k.Metrics))
		for j := range k.Metrics {
			all[j] = &k.Metrics[j]
		}
		fmt.Fprintf(&b, "\n<details><summary>All %d metrics</summary>\n\n", len(all))
		mdTable(&b, all, icon)
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdTable(b *strings.Builder, ms []*MetricResult, icon map[Verdict]string) {
	b.WriteString("| metric | baseline | candidate | n | shift | CI | q | verdict |\n|---|---:|---:|---:|---:|---|---:|---|\n")
	for _, m := range ms {
		v := icon[m.Verdict] + " " + string(m.Verdict)
		if m.Reason != "" {
			v += ": " + md(m.Reason)
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %d/%d | %s | %s | %s | %s |\n", m.Key,
			medianString(m.Base, m.BaseMedian, m.Unit), medianString(m.Cand, m.CandMedian, m.Unit), len(m.Base), len(m.Cand),
			changeString(m), ciString(m), pString(m.Q), v)
	}
}

// md escapes text for a Markdown table cell.
func md(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'")
	return r.Replace(s)
}
