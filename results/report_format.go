package results

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FormatValue prints a value with its unit, scaling nanoseconds to the
// readable unit.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "-"
	}
	if unit == "ns" {
		a := math.Abs(v)
		switch {
		case a >= 1e9:
			return fmt.Sprintf("%.3g s", v/1e9)
		case a >= 1e6:
			return fmt.Sprintf("%.3g ms", v/1e6)
		case a >= 1e3:
			return fmt.Sprintf("%.3g us", v/1e3)
		}
		return fmt.Sprintf("%.3g ns", v)
	}
	s := fmt.Sprintf("%.4g", v)
	if unit == "" || unit == "ratio" {
		return s
	}
	return s + " " + unit
}

// pct prints a ratio as a signed percentage change.
func pct(r float64) string {
	return fmt.Sprintf("%+.1f%%", (r-1)*100)
}

func changeString(m *MetricResult) string {
	if !m.Estimated() {
		return "-"
	}
	if m.Complement {
		return pct(m.Ratio) + " of 1-x" // judged on the rarer side: the shift of 1 - value
	}
	return pct(m.Ratio)
}

func ciString(m *MetricResult) string {
	if !m.Estimated() {
		return "-"
	}
	return fmt.Sprintf("[%s, %s] %s", pct(m.Lo), pct(m.Hi), levelString(m.Level))
}

// levelString is an interval's achieved confidence: "90%", not the nominal
// one (the rank interval at 3 boots against 3 is at 90%, whatever was asked).
func levelString(l float64) string {
	return strconv.FormatFloat(math.Floor(l*1000+1e-9)/10, 'f', -1, 64) + "%"
}

func pString(p float64) string {
	if p == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2g", p)
}

// summaryLine tallies a kernel's findings: "1 regression, 2 improvements, ...".
func summaryLine(k *KernelResult) string {
	n := k.Counts()
	var parts []string
	if len(k.Faults) > 0 {
		for _, f := range k.Faults {
			parts = append(parts, f.String())
		}
	}
	for _, v := range []Verdict{Regression, Improvement, Inconclusive, Underpowered, NotComparable, Equivalent, Informational} {
		if n[v] == 0 {
			continue
		}
		name := string(v)
		if n[v] > 1 && (v == Regression || v == Improvement) {
			name += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n[v], name))
	}
	if len(parts) == 0 {
		return "no metrics"
	}
	return strings.Join(parts, ", ")
}

// overall is the worst verdict of a kernel: regression when any fault or
// regression, else improvement, inconclusive, ... equivalent.
func (k *KernelResult) Overall() Verdict {
	if len(k.Faults) > 0 {
		return Regression
	}
	best := Informational
	for _, m := range k.Metrics {
		if verdictRank[m.Verdict] < verdictRank[best] {
			best = m.Verdict
		}
	}
	return best
}

func bootsString(b BootCounts) string {
	s := fmt.Sprintf("%d boots, %d ok", b.Total, b.OK)
	for _, x := range []struct {
		n    int
		name string
	}{{b.KernelPanic, "kernel-panic"}, {b.Hang, "hang"}, {b.AgentError, "agent-error"}, {b.InfraError, "infra-error"}} {
		if x.n > 0 {
			s += fmt.Sprintf(", %d %s", x.n, x.name)
		}
	}
	return s
}

func changesString(cs []Change) string {
	var parts []string
	for _, c := range cs {
		b, a := c.Base, c.Cand
		if b == "" {
			b = "unset"
		}
		if a == "" {
			a = "unset"
		}
		parts = append(parts, fmt.Sprintf("%s %s -> %s", c.Key, b, a))
	}
	return strings.Join(parts, "; ")
}

// medianString formats one side's median, "-" when the side has no values
// (a median of nothing is not 0).
func medianString(vals []float64, median float64, unit string) string {
	if len(vals) == 0 {
		return "-"
	}
	return FormatValue(median, unit)
}
