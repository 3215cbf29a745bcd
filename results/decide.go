package results

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// How a metric is tested, given its per-boot values on both sides:
//
//   - event counts (unit "count", whole numbers): as counts, CountRatio;
//   - fractions (Metric.Fraction): by their rarer side, as counts of
//     Value*Samples events when every boot says its Samples, else by the
//     rank test on the rarer side's values;
//   - values all > 0: Welch's t-test on log values, or with
//     CompareOptions.Paired the paired one, round by round, when every boot
//     of one side has its round's partner on the other (the plan interleaves
//     kernels so that a round shares the host's state). On log-normal
//     per-boot values it is the more powerful test
//     at 3 to 10 boots, where the exact rank test cannot even reach alpha
//     at 3 against 3;
//   - anything else: Mann-Whitney with the Hodges-Lehmann shift.
//
// Intervals are at 1-2*alpha: a claim beyond the threshold in one direction,
// or of equivalence inside it (two one-sided tests), is then a test at
// alpha, and the verdict also needs the corrected test of "no change".

// pairRounds reports whether the boots of base and cand pair up round by
// round, and their values in round order.
func pairRounds(bs, cs *series) (base, cand []float64, ok bool) {
	if len(bs.rounds) != len(cs.rounds) || len(bs.rounds) < 3 {
		return nil, nil, false
	}
	at := map[int]int{}
	for i, r := range cs.rounds {
		if _, dup := at[r]; dup {
			return nil, nil, false
		}
		at[r] = i
	}
	seen := map[int]bool{}
	for i, r := range bs.rounds {
		j, ok := at[r]
		if !ok || seen[r] {
			return nil, nil, false
		}
		seen[r] = true
		base, cand = append(base, bs.vals[i]), append(cand, cs.vals[j])
	}
	return base, cand, true
}

// test fills m's p-value and shift estimate from the series behind it.
func test(m *MetricResult, bs, cs *series, alpha float64, pair bool) error {
	level := 1 - 2*alpha
	switch {
	case isCount(m):
		// Out of how many (samples, periods) when every boot says so: boots
		// that ran longer may count more.
		be, ce := bs.samples, cs.samples
		if slices.Contains(be, 0) || slices.Contains(ce, 0) {
			be, ce = nil, nil
		}
		return testCounts(m, m.Base, m.Cand, be, ce, level)
	case isFraction(bs.meta) || isFraction(cs.meta):
		b, c := m.Base, m.Cand
		if median(slices.Concat(b, c)) > 0.5 {
			m.Complement = true
			b, c = complement(b), complement(c)
		}
		if be, ce := bs.samples, cs.samples; !slices.Contains(be, 0) && !slices.Contains(ce, 0) {
			return testCounts(m, times(b, be), times(c, ce), be, ce, level)
		}
		return testRanks(m, b, c, level)
	case positive(m.Base) && positive(m.Cand):
		lb, lc := logs(m.Base), logs(m.Cand)
		var s MeanShift
		var err error
		if pb, pc, ok := pairRounds(bs, cs); ok && pair {
			s, err = PairedT(logs(pb), logs(pc), level)
			m.Test = "paired-log"
		} else {
			s, err = WelchT(lb, lc, level)
			m.Test = "welch-log"
		}
		if err == errNoSpread {
			return testRanks(m, m.Base, m.Cand, level)
		}
		if err != nil {
			return err
		}
		m.P, m.Scale, m.Level = s.P, LogScale, s.Level
		m.Ratio, m.Lo, m.Hi = math.Exp(s.Estimate), math.Exp(s.Lo), math.Exp(s.Hi)
		return nil
	}
	return testRanks(m, m.Base, m.Cand, level)
}

func testRanks(m *MetricResult, base, cand []float64, level float64) error {
	_, p, err := MannWhitney(base, cand)
	if err != nil {
		return err
	}
	m.P, m.Test = p, "mann-whitney"
	estimateOf(m, base, cand, level)
	return nil
}

func testCounts(m *MetricResult, base, cand, baseExp, candExp []float64, level float64) error {
	r, err := CountRatio(base, cand, baseExp, candExp, level)
	if err != nil {
		return err
	}
	m.P, m.Test, m.Scale, m.Dispersion = r.P, "counts", CountScale, r.Dispersion
	m.Ratio, m.Lo, m.Hi, m.Level = r.Ratio, r.Lo, r.Hi, r.Level
	if r.BaseEvents+r.CandEvents == 0 {
		m.Ratio = 1 // no events on either side: nothing to estimate
	}
	return nil
}

// isCount: a judged count of events, whole numbers >= 0 on both sides.
func isCount(m *MetricResult) bool {
	if m.Unit != "count" {
		return false
	}
	for _, v := range slices.Concat(m.Base, m.Cand) {
		if v < 0 || v != math.Trunc(v) {
			return false // a count per message is a rate, not a count
		}
	}
	return true
}

// isFraction: declared a fraction, or, in runs written before the
// declaration, a ratio named as a share of something.
func isFraction(m Metric) bool {
	if m.Fraction {
		return true
	}
	if m.Unit != "ratio" {
		return false
	}
	return strings.Contains(m.Name, "fraction") || strings.Contains(m.Name, "share") || strings.HasSuffix(m.Name, ".stalled")
}

// defaultPrimary: the metrics a scenario that marks none has as primary:
// its medians, means and rates.
func defaultPrimary(m Metric) bool {
	if m.Better == Info {
		return false
	}
	n := m.Name
	return m.Quantile == 50 || strings.HasSuffix(n, "p50") || strings.HasSuffix(n, "median") ||
		strings.HasSuffix(n, "mean") || strings.HasSuffix(m.Unit, "/s")
}

func positive(v []float64) bool {
	for _, x := range v {
		if !(x > 0) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

func complement(v []float64) []float64 {
	c := make([]float64, len(v))
	for i, x := range v {
		c[i] = 1 - x
	}
	return c
}

// times rounds v[i]*e[i] to whole events.
func times(v, e []float64) []float64 {
	c := make([]float64, len(v))
	for i := range v {
		c[i] = math.Round(v[i] * e[i])
	}
	return c
}

func pValues(ms []MetricResult, idx []int) []float64 {
	p := make([]float64, len(idx))
	for i, j := range idx {
		p[i] = ms[j].P
	}
	return p
}

// degenerate says why an interval inside the threshold still says nothing:
// it has no width, or one value makes up most of both sides (ties decide
// the ranks), or no event happened on either side.
func degenerate(m *MetricResult) string {
	if m.Scale == CountScale {
		return "" // the exact interval has width whenever events happened
	}
	if m.Lo == m.Hi {
		return "the interval has no width"
	}
	vals := slices.Concat(m.Base, m.Cand)
	for _, n := range tieCounts(vals, nil) {
		if 2*n > len(vals) {
			return fmt.Sprintf("%d of %d values are one tied value", n, len(vals))
		}
	}
	return ""
}
