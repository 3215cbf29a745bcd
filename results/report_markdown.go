package results

import (
	"fmt"
	"io"
	"strings"
)

// mdLimit bounds report.md: a GitHub comment holds at most 65,536
// characters, and the margin leaves room for what a CI step wraps around it.
const mdLimit = 60_000

// mdDetail is how much of the comparison report.md shows.
type mdDetail int

const (
	// mdFull: every kernel's notable metrics and all its metrics.
	mdFull mdDetail = iota
	// mdDecided: every kernel's decided changes (regressions and
	// improvements) and what changed; the full tables are left out.
	mdDecided
	// mdHeadings: every kernel's heading, tally, faults and notes.
	mdHeadings
)

// mdElsewhere points a reader of a shortened report.md to the full tables.
const mdElsewhere = "The full tables are left out to fit a comment: they are in report.html and report.json beside this report, and `kvet show RUNDIR` prints them."

// WriteMarkdown renders the comparison for a pull-request comment: the
// answer, a summary line per kernel, a table of what is not equivalent, and
// the full table in a collapsible block. run may be nil. The document stays
// under mdLimit characters: when the tables would not fit, it keeps the
// answer, each kernel's heading, faults, what changed and decided changes,
// and says where the full tables are; when even that would not fit, each
// kernel's heading and tally; past that it is cut at a line, the answer
// first in any case.
func WriteMarkdown(w io.Writer, c *Comparison, run *Run) error {
	var doc string
	for d := mdFull; d <= mdHeadings; d++ {
		if doc = markdownDoc(c, run, d); len(doc) <= mdLimit {
			break
		}
	}
	_, err := io.WriteString(w, mdCut(doc, mdLimit))
	return err
}

func markdownDoc(c *Comparison, run *Run, detail mdDetail) string {
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
	if detail > mdFull {
		b.WriteString("\n" + mdElsewhere + "\n")
	}
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
		if detail == mdHeadings {
			continue
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
			m := &k.Metrics[j]
			switch {
			case m.Verdict == Regression || m.Verdict == Improvement:
				notable = append(notable, m)
			case detail == mdFull && m.Verdict != Equivalent && m.Verdict != Informational:
				notable = append(notable, m)
			}
		}
		if len(notable) > 0 {
			b.WriteString("\n")
			mdTable(&b, notable, icon)
		}
		if detail > mdFull {
			continue
		}
		all := make([]*MetricResult, len(k.Metrics))
		for j := range k.Metrics {
			all[j] = &k.Metrics[j]
		}
		fmt.Fprintf(&b, "\n<details><summary>All %d metrics</summary>\n\n", len(all))
		mdTable(&b, all, icon)
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// mdCut cuts doc at the last line that leaves it, with a closing line,
// within limit bytes (so within limit characters), closing a code block
// left open.
func mdCut(doc string, limit int) string {
	if len(doc) <= limit {
		return doc
	}
	const tail = "\n**The report is cut here to fit a comment.** The full report is in report.html and report.json beside it, and `kvet show RUNDIR` prints it.\n"
	cut := strings.LastIndexByte(doc[:limit-len(tail)-len("```\n")], '\n') + 1
	out := doc[:cut]
	if strings.Count(out, "```")%2 == 1 {
		out += "```\n"
	}
	return out + tail
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
