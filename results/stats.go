package results

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/aclements/go-moremath/mathx"
	"github.com/aclements/go-moremath/stats"
)

// The statistics here work on per-boot values: one number per boot and
// metric. Pooling raw samples across boots would make any difference
// "significant", because samples inside one boot are not independent.
//
// Library use: the Mann-Whitney U test (exact distribution for small
// samples, with Klotz's exact treatment of ties, and the normal approximation
// with tie and continuity correction beyond) and the U distribution come from
// github.com/aclements/go-moremath/stats, the same code benchstat relies on
// through golang.org/x/perf/benchmath. benchmath itself offers no effect
// size with a confidence interval and no multiple-testing correction, so the
// Hodges-Lehmann shift, its distribution-free interval and
// Benjamini-Hochberg are written here.

// exactLimit is the largest sample size per side for which the exact U
// distribution gives the interval's critical value; beyond it the normal
// approximation is accurate and much cheaper.
const exactLimit = 50

// MannWhitney is the two-sided Mann-Whitney U test of base against cand. It
// returns U (of cand: the number of pairs in which the candidate value is the
// larger, ties counting one half) and the p-value. Samples whose values are
// all equal give p = 1.
//
// For small samples the p-value is exact, also with ties (the conditional
// distribution given the ties), and two-sided as twice the smaller tail,
// like R's exact wilcox.test. With ties that distribution is not symmetric,
// and go-moremath's two-sided p-value reads the wrong tail then, so the
// exact tails are taken from its UDist here; its normal approximation (tie
// and continuity corrected) serves larger samples.
func MannWhitney(base, cand []float64) (u, p float64, err error) {
	n1, n2 := len(cand), len(base)
	if n1 == 0 || n2 == 0 {
		return 0, 0, fmt.Errorf("mann-whitney: empty sample (%d and %d values)", n2, n1)
	}
	// go-moremath loops without end on a NaN: it never reaches the test.
	if !finite(base) || !finite(cand) {
		return 0, 0, errors.New("mann-whitney: a value is NaN or infinite")
	}
	r, err := stats.MannWhitneyUTest(cand, base, stats.LocationDiffers)
	if errors.Is(err, stats.ErrSamplesEqual) {
		return float64(n1*n2) / 2, 1, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("mann-whitney: %w", err)
	}
	ties := tieCounts(base, cand)
	hasTies := len(ties) < n1+n2
	limit := stats.MannWhitneyExactLimit
	if hasTies {
		limit = stats.MannWhitneyTiesExactLimit
	}
	if n1 > limit || n2 > limit {
		return r.U, math.Min(r.P, 1), nil
	}
	d := stats.UDist{N1: n1, N2: n2, T: ties}
	lower := uCDF(d, r.U)
	upper := 1 - uCDF(d, r.U-0.5) // U moves in steps of 1/2 with ties, 1 without
	return r.U, math.Min(1, 2*math.Min(lower, upper)), nil
}

// uCDF is P(U <= u) under d. go-moremath's UDist.CDF with ties returns
// P(U = min) for any u just below the smallest U the ties allow, where the
// answer is 0 (base 0,0,0,0,0,2 against 0,0,0 read p 0.667 instead of 1).
func uCDF(d stats.UDist, u float64) float64 {
	if u < uMin(d) {
		return 0
	}
	return d.CDF(u)
}

// uMin is the smallest U that d can take: the N1 values hold the lowest
// ranks, ties sharing their mid-rank.
func uMin(d stats.UDist) float64 {
	if d.T == nil {
		return 0
	}
	left, rank, sum := d.N1, 0, 0.0
	for _, t := range d.T {
		if left == 0 {
			break
		}
		take := min(left, t)
		sum += float64(take) * (float64(rank) + float64(t+1)/2)
		rank += t
		left -= take
	}
	return sum - float64(d.N1*(d.N1+1))/2
}

// finite reports whether every value is a number and not infinite.
func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// tieCounts is the number of equal values at each distinct value of the
// pooled samples, in increasing order.
func tieCounts(a, b []float64) []int {
	pool := slices.Concat(a, b)
	sort.Float64s(pool)
	var t []int
	for i := 0; i < len(pool); {
		j := i
		for j < len(pool) && pool[j] == pool[i] {
			j++
		}
		t = append(t, j-i)
		i = j
	}
	return t
}

// MinP is the smallest two-sided p-value the exact Mann-Whitney test can
// give with n1 and n2 values: every candidate value beyond every baseline
// value.
func MinP(n1, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	return math.Min(1, 2/mathx.Choose(n1+n2, n1))
}

// BootsNeeded is the smallest number of boots per kernel with which the
// exact test can reach alpha after correcting for m tests (the worst case of
// Benjamini-Hochberg, a single significant metric among m).
func BootsNeeded(alpha float64, m int) int {
	if m < 1 {
		m = 1
	}
	for n := 2; n < 1000; n++ {
		if MinP(n, n)*float64(m) <= alpha {
			return n
		}
	}
	return 1000
}

// Shift is a Hodges-Lehmann location shift with its distribution-free
// confidence interval.
type Shift struct {
	// Estimate is the median of all pairwise differences cand_j - base_i.
	Estimate float64
	// Lo and Hi bound the interval, Level is its achieved confidence (the
	// discrete U distribution rarely hits the nominal level exactly).
	Lo, Hi, Level float64
}

// HodgesLehmann estimates the shift of cand relative to base as the median of
// the pairwise differences cand_j - base_i, with the confidence interval of
// Bauer (1972) from their order statistics: [d(k), d(N-k+1)] where k is the
// smallest count with P(U < k) reaching (1-confidence)/2 under the exact U
// distribution (normal approximation beyond 50 values per side). This is
// what R's wilcox.test(cand, base, conf.int = TRUE) reports without ties.
func HodgesLehmann(base, cand []float64, confidence float64) Shift {
	n1, n2 := len(base), len(cand)
	if n1 == 0 || n2 == 0 {
		return Shift{Estimate: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	d := make([]float64, 0, n1*n2)
	for _, b := range base {
		for _, c := range cand {
			d = append(d, c-b)
		}
	}
	sort.Float64s(d)
	k, level := uCritical(n1, n2, 1-confidence)
	return Shift{Estimate: median(d), Lo: d[k-1], Hi: d[len(d)-k], Level: level}
}

// uCritical returns the 1-based order statistic k of the pairwise
// differences that bounds a two-sided interval at level 1-alpha, and the
// interval's achieved confidence. It mirrors R's qwilcox(alpha/2, n1, n2):
// the smallest u with P(U <= u) >= alpha/2, at least 1.
func uCritical(n1, n2 int, alpha float64) (k int, level float64) {
	N := n1 * n2
	if n1 > exactLimit || n2 > exactLimit {
		z := stats.StdNormal.InvCDF(1 - alpha/2)
		k = int(math.Floor(float64(N)/2 - z*math.Sqrt(float64(N*(n1+n2+1))/12)))
		k = max(1, min(k, (N+1)/2))
		return k, 1 - alpha
	}
	dist := stats.UDist{N1: n1, N2: n2}
	// The CDF is monotone in u: binary search keeps this at a handful of
	// distribution evaluations.
	u := sort.Search(N/2+1, func(u int) bool { return dist.CDF(float64(u)) >= alpha/2 })
	k = max(1, u)
	return k, 1 - 2*dist.CDF(float64(k-1))
}

// BenjaminiHochberg returns the adjusted p-values (q-values) controlling the
// false discovery rate, as R's p.adjust(p, "BH").
func BenjaminiHochberg(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	q := make([]float64, m)
	run := 1.0
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		run = math.Min(run, p[i]*float64(m)/float64(r+1))
		q[i] = run
	}
	return q
}

// WeightedBH is Benjamini-Hochberg on p[i]/w[i] (Genovese, Roeder and
// Wasserman 2006): with weights that average 1 it still controls the false
// discovery rate, and so, when nothing changed at all, the chance of any
// discovery, at alpha; a metric of weight 4 needs a p four times larger
// than one of weight 1. Adjusted values are capped at 1.
func WeightedBH(p, w []float64) []float64 {
	pw := make([]float64, len(p))
	for i := range p {
		pw[i] = math.Min(1, p[i]/w[i])
	}
	return BenjaminiHochberg(pw)
}

// median of values (not modified).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
