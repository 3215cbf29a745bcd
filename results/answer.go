package results

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// answerWidth is the widest line of the answer: the first screen of a
// terminal, a GitHub comment, a CI log.
const answerWidth = 110

// answerMetrics is how many decided changes a kernel's answer lists.
const answerMetrics = 8

// Answer is what a comparison says, before any table: a block per kernel
// in matrix order with its failures, its decided changes ordered by size
// with what changed in the kernel's facts, and the counts of unchanged and
// undecided metrics with what would decide them.
func Answer(c *Comparison) []string {
	var out []string
	for i := range c.Kernels {
		out = append(out, kernelAnswer(c, &c.Kernels[i])...)
	}
	if len(c.Kernels) == 0 {
		out = append(out, fmt.Sprintf("nothing to compare: only the baseline %s", c.Baseline))
	}
	if c.Looks > 0 {
		out = append(out, wrap(fmt.Sprintf("boots: auto, %s: ", plural(c.Looks, "look")), c.Stop)...)
	}
	return out
}

func kernelAnswer(c *Comparison, k *KernelResult) []string {
	var decided, unchanged, undecided []*MetricResult
	for j := range k.Metrics {
		m := &k.Metrics[j]
		switch m.Verdict {
		case Regression, Improvement:
			decided = append(decided, m)
		case Equivalent:
			unchanged = append(unchanged, m)
		case Inconclusive, Underpowered:
			undecided = append(undecided, m)
		}
	}
	slices.SortStableFunc(decided, func(a, b *MetricResult) int {
		if a.Verdict != b.Verdict { // regressions first
			return cmp.Compare(verdictRank[a.Verdict], verdictRank[b.Verdict])
		}
		return cmp.Compare(math.Abs(math.Log(b.Ratio)), math.Abs(math.Log(a.Ratio)))
	})
	var what []string
	for _, f := range k.Faults {
		what = append(what, f.String())
	}
	switch n := len(decided); {
	case n > 0:
		what = append(what, plural(n, "decided change"))
	case len(k.Faults) == 0 && len(undecided) == 0:
		what = append(what, "nothing changed")
	case len(k.Faults) == 0:
		what = append(what, "no change decided")
	}
	if n := countOneOffs(k.Notes); n > 0 {
		what = append(what, fmt.Sprintf("%s that did not reproduce (not counted)", plural(n, "one-off fault")))
	}
	if k.Look > 0 {
		what = append(what, fmt.Sprintf("at look %d, %d boots, alpha %.2g", k.Look, k.Boots.OK, k.Alpha))
	}
	out := []string{fmt.Sprintf("%s vs %s: %s: %s", k.Kernel, c.BaselineOf(k), strings.ToUpper(string(k.Overall())), strings.Join(what, ", "))}
	for _, f := range k.Faults {
		line := f.Reason
		if len(f.Decisive) > 0 {
			line = strings.Join(f.Decisive, " | ")
		}
		out = append(out, wrap("  "+string(f.Outcome)+": ", line)...)
	}
	for j, m := range decided {
		if j == answerMetrics {
			out = append(out, fmt.Sprintf("  ... and %d more decided changes (the full table: kvet show RUNDIR, report.html)", len(decided)-j))
			break
		}
		out = append(out, clip(fmt.Sprintf("  %-11s %-44s %8s  %s -> %s", m.Verdict, m.Key, changeString(m),
			medianString(m.Base, m.BaseMedian, m.Unit), medianString(m.Cand, m.CandMedian, m.Unit))))
	}
	if len(k.Changes) > 0 && (len(decided) > 0 || len(k.Faults) > 0) {
		out = append(out, changedLines(k.Changes)...)
	}
	if len(unchanged)+len(undecided) > 0 {
		line := fmt.Sprintf("  %d unchanged, %d undecided", len(unchanged), len(undecided))
		if len(undecided) > 0 {
			line += ": " + decideHint(c, k)
		}
		out = append(out, clip(line))
	}
	return out
}

// countOneOffs counts the notes of faults that did not reproduce.
func countOneOffs(notes []string) int {
	n := 0
	for _, s := range notes {
		if strings.Contains(s, oneOffMark) {
			n++
		}
	}
	return n
}

// decideHint says what would decide a kernel's undecided metrics.
func decideHint(c *Comparison, k *KernelResult) string {
	base := c.BaselineBoots.OK
	if k.BaseBoots != nil {
		base = k.BaseBoots.OK
	}
	n := min(k.Boots.OK, base)
	if c.Looks > 0 && c.Stop != "" && c.Stop != StopAllDecided {
		return "the run stopped booting (see below)"
	}
	if k.BootsNeeded > n {
		return fmt.Sprintf("%d more boots of each kernel could decide them (needs %d, has %d)", k.BootsNeeded-n, k.BootsNeeded, n)
	}
	return "their intervals straddle the thresholds; more boots narrow them"
}

// answerChangedLines bounds what changed in the answer: two kernel
// versions differ in dozens of facts, and the first screen must answer.
const answerChangedLines = 4

// changedLines is what changed, wrapped, the first changes (the release,
// the configuration, the matrix's own differences come first) as far as
// answerChangedLines allow and then how many more there are.
func changedLines(cs []Change) []string {
	lines := wrap("  what changed: ", changesString(cs))
	if len(lines) <= answerChangedLines {
		return lines
	}
	for n := len(cs) - 1; n > 0; n-- {
		more := fmt.Sprintf("; and %d more (the full list: kvet show RUNDIR, report.html)", len(cs)-n)
		if lines = wrap("  what changed: ", changesString(cs[:n])+more); len(lines) <= answerChangedLines {
			return lines
		}
	}
	return lines[:answerChangedLines]
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

// clip cuts a line to the answer's width.
func clip(s string) string {
	if r := []rune(s); len(r) > answerWidth {
		return string(r[:answerWidth-3]) + "..."
	}
	return s
}

// wrap breaks text after prefix into lines of the answer's width, the
// following ones indented under the text.
func wrap(prefix, text string) []string {
	indent := strings.Repeat(" ", len(prefix))
	var out []string
	line := prefix
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > answerWidth && strings.TrimSpace(line) != strings.TrimSpace(prefix) {
			out = append(out, line)
			line = indent
		}
		if line != prefix && line != indent {
			line += " "
		}
		line += w
	}
	return append(out, clip(line))
}
