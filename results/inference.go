package results

import (
	"errors"
	"math"

	"github.com/aclements/go-moremath/mathx"
	"github.com/aclements/go-moremath/stats"
)

// Parametric tests on per-boot values, beside the rank tests of stats.go.
// The t distribution and the t-tests come from go-moremath (stats.TDist,
// stats.TwoSampleWelchTTest, stats.PairedTTest), the incomplete beta
// function from its mathx; go-moremath has no quantile functions for
// them, so those are found here by bisection of its CDFs. gonum's distuv
// has them, but would be a second statistics library for two quantiles.

// MeanShift is a difference of means, cand - base, with a t interval.
type MeanShift struct {
	Estimate, Lo, Hi float64
	// Level is the interval's confidence: exact for normal values.
	Level float64
	// P is the two-sided p-value of "no difference"; DoF the degrees of
	// freedom of the t distribution behind it.
	P, DoF float64
	// Paired is true when the boots were compared round by round.
	Paired bool
}

var errNoSpread = errors.New("t-test: no spread in the values")

// WelchT compares the means of cand and base (Welch's t-test, unequal
// variances) and gives the interval of the difference at level.
func WelchT(base, cand []float64, level float64) (MeanShift, error) {
	if len(base) < 2 || len(cand) < 2 {
		return MeanShift{}, errors.New("t-test: needs two values per side")
	}
	if !finite(base) || !finite(cand) {
		return MeanShift{}, errors.New("t-test: a value is NaN or infinite")
	}
	b, c := stats.Sample{Xs: base}, stats.Sample{Xs: cand}
	vb, vc := b.Variance()/float64(len(base)), c.Variance()/float64(len(cand))
	if vb+vc == 0 {
		return MeanShift{}, errNoSpread
	}
	r, err := stats.TwoSampleWelchTTest(c, b, stats.LocationDiffers)
	if err != nil {
		return MeanShift{}, err
	}
	d := c.Mean() - b.Mean()
	h := tQuantile(r.DoF, 1-(1-level)/2) * math.Sqrt(vb+vc)
	return MeanShift{Estimate: d, Lo: d - h, Hi: d + h, Level: level, P: tP(r), DoF: r.DoF}, nil
}

// PairedT compares cand[i] with base[i], the boots of one round.
func PairedT(base, cand []float64, level float64) (MeanShift, error) {
	if len(base) != len(cand) || len(base) < 2 {
		return MeanShift{}, errors.New("t-test: needs two pairs")
	}
	if !finite(base) || !finite(cand) {
		return MeanShift{}, errors.New("t-test: a value is NaN or infinite")
	}
	diff := make([]float64, len(base))
	for i := range base {
		diff[i] = cand[i] - base[i]
	}
	s := stats.Sample{Xs: diff}
	sd := s.StdDev()
	if sd == 0 {
		return MeanShift{}, errNoSpread
	}
	r, err := stats.PairedTTest(cand, base, 0, stats.LocationDiffers)
	if err != nil {
		return MeanShift{}, err
	}
	d := s.Mean()
	h := tQuantile(r.DoF, 1-(1-level)/2) * sd / math.Sqrt(float64(len(diff)))
	return MeanShift{Estimate: d, Lo: d - h, Hi: d + h, Level: level, P: tP(r), DoF: r.DoF, Paired: true}, nil
}

// tP is the two-sided p-value of r from the lower tail: go-moremath's
// 2*(1-CDF(|t|)) rounds to 0 beyond about 1e-16, and a p of 0 reads as
// "not tested". The floor, 1e-16, keeps an astronomically small p positive and errs on the safe side.
func tP(r *stats.TTestResult) float64 {
	return math.Max(2*stats.TDist{V: r.DoF}.CDF(-math.Abs(r.T)), 1e-16)
}

// tQuantile is the p-quantile of Student's t with dof degrees of freedom.
func tQuantile(dof, p float64) float64 {
	d := stats.TDist{V: dof}
	return bisect(func(x float64) float64 { return d.CDF(x) }, p, -1e3, 1e3)
}

// bisect finds x in [lo, hi] with f(x) = y for an increasing f.
func bisect(f func(float64) float64, y, lo, hi float64) float64 {
	for i := 0; i < 200 && hi-lo > 1e-12*math.Max(1, math.Abs(lo)); i++ {
		m := (lo + hi) / 2
		if f(m) < y {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

// RateRatio compares event counts per boot as counts: the ratio of the
// candidate's event rate to the baseline's, with its interval and the
// p-value of "same rate".
type RateRatio struct {
	// Ratio is cand rate / base rate; infinite when the baseline saw no
	// event, NaN when neither side did.
	Ratio, Lo, Hi, Level, P float64
	// Events are the totals on each side.
	BaseEvents, CandEvents float64
	// Dispersion is the between-boot variance of the counts over what
	// Poisson counting allows (1 when not larger); the counts are shrunk by
	// it before the test, so boots whose counts vary more than chance make
	// the test weaker, never stronger.
	Dispersion float64
}

// CountRatio compares per-boot event counts. exposure holds what each
// boot's count is out of (samples, periods); nil means one per boot. Given
// the total, the candidate's share of the events is binomial under "same
// rate" (the exact conditional test, as R's poisson.test for two samples);
// over-dispersion between boots is the quasi-Poisson scale, estimated from
// both sides, by which the totals are divided (at least 1). The interval is
// Clopper-Pearson's on the share, turned into a rate ratio: it covers with
// at least level.
func CountRatio(base, cand, baseExp, candExp []float64, level float64) (RateRatio, error) {
	if len(base) == 0 || len(cand) == 0 {
		return RateRatio{}, errors.New("counts: empty sample")
	}
	if !finite(base) || !finite(cand) || !finite(baseExp) || !finite(candExp) {
		return RateRatio{}, errors.New("counts: a value is NaN or infinite")
	}
	exp := func(e []float64, n int) []float64 {
		if e == nil {
			e = make([]float64, n)
			for i := range e {
				e[i] = 1
			}
		}
		return e
	}
	baseExp, candExp = exp(baseExp, len(base)), exp(candExp, len(cand))
	if len(baseExp) != len(base) || len(candExp) != len(cand) {
		return RateRatio{}, errors.New("counts: exposures do not match the counts")
	}
	sum := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s
	}
	sb, sc, eb, ec := sum(base), sum(cand), sum(baseExp), sum(candExp)
	if eb <= 0 || ec <= 0 {
		return RateRatio{}, errors.New("counts: no exposure")
	}
	// Pearson's dispersion: each side around its own rate.
	chi, df := 0.0, float64(len(base)+len(cand)-2)
	for _, side := range []struct{ x, e []float64 }{{base, baseExp}, {cand, candExp}} {
		rate := sum(side.x) / sum(side.e)
		for i, x := range side.x {
			if m := rate * side.e[i]; m > 0 {
				chi += (x - m) * (x - m) / m
			}
		}
	}
	phi := 1.0
	if df > 0 {
		phi = math.Max(1, chi/df)
	}
	y, n := sc/phi, (sb+sc)/phi
	pi0 := ec / (eb + ec)
	rr := RateRatio{BaseEvents: sb, CandEvents: sc, Dispersion: phi, Level: level}
	if n == 0 {
		rr.Ratio, rr.Lo, rr.Hi, rr.P = math.NaN(), 0, math.Inf(1), 1
		return rr, nil
	}
	// Binomial tails with real-valued counts through the incomplete beta.
	upper := 1.0 // P(Y >= y)
	if y > 0 {
		upper = mathx.BetaInc(pi0, y, n-y+1)
	}
	lower := 1.0 // P(Y <= y)
	if y < n {
		lower = 1 - mathx.BetaInc(pi0, y+1, n-y)
	}
	rr.P = math.Min(1, 2*math.Min(lower, upper))
	a := (1 - level) / 2
	lo, hi := 0.0, 1.0
	if y > 0 {
		lo = bisect(func(p float64) float64 { return mathx.BetaInc(p, y, n-y+1) }, a, 0, 1)
	}
	if y < n {
		hi = bisect(func(p float64) float64 { return mathx.BetaInc(p, y+1, n-y) }, 1-a, 0, 1)
	}
	toRatio := func(p float64) float64 {
		if p >= 1 {
			return math.Inf(1)
		}
		return p / (1 - p) * eb / ec
	}
	rr.Ratio, rr.Lo, rr.Hi = toRatio(y/n), toRatio(lo), toRatio(hi)
	return rr, nil
}
