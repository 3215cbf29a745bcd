package results

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestTQuantile(t *testing.T) {
	// Tables of Student's t.
	for _, tt := range []struct{ dof, p, want float64 }{
		{9, 0.975, 2.262157}, {18, 0.95, 1.734064}, {2, 0.95, 2.919986}, {1e6, 0.975, 1.959966},
	} {
		if got := tQuantile(tt.dof, tt.p); !near(got, tt.want, 1e-5) {
			t.Errorf("tQuantile(%v, %v) = %.6f, want %.6f", tt.dof, tt.p, got, tt.want)
		}
	}
}

// R: t.test(c(2,4,6,8,10), c(1,2,3,4,5)): t = 1.8974, df = 5.8824,
// p-value = 0.1075; the interval is 3 -+ t(5.8824, 0.975) * sqrt(2.5) with
// t(5.8824, 0.975) = 2.45885 (2.4592 interpolated in 1/df between the
// tables at 5 and 6).
func TestWelchTAgainstR(t *testing.T) {
	s, err := WelchT([]float64{1, 2, 3, 4, 5}, []float64{2, 4, 6, 8, 10}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !near(s.Estimate, 3, 1e-12) || !near(s.DoF, 5.8824, 1e-4) || !near(s.P, 0.1075, 2e-3) || !near(s.Lo, 3-2.45885*math.Sqrt(2.5), 1e-4) || !near(s.Hi, 3+2.45885*math.Sqrt(2.5), 1e-4) {
		t.Errorf("WelchT = %+v, want 3 [-0.888, 6.888], df 5.8824, p 0.1075", s)
	}
}

// The intervals cover at their level, paired and not (seeded).
func TestTIntervalCoverage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const runs = 4000
	var welch, paired int
	for i := 0; i < runs; i++ {
		b, c := make([]float64, 5), make([]float64, 5)
		for j := range b {
			host := r.NormFloat64()
			b[j], c[j] = host+0.3*r.NormFloat64(), host+0.3*r.NormFloat64()+1
		}
		if s, _ := WelchT(b, c, 0.9); s.Lo <= 1 && 1 <= s.Hi {
			welch++
		}
		if s, _ := PairedT(b, c, 0.9); s.Lo <= 1 && 1 <= s.Hi {
			paired++
		}
	}
	for name, n := range map[string]int{"welch": welch, "paired": paired} {
		if cov := float64(n) / runs; cov < 0.88 || cov > 0.95 && name == "paired" {
			t.Errorf("%s 90%% interval coverage = %.3f, want about 0.90 (at least)", name, cov)
		}
	}
}

// R: poisson.test(c(10, 2), c(1, 1)): p-value = 0.03857, rate ratio 5,
// 95 percent CI 1.0655 46.92 (binom.test(10, 12)'s Clopper-Pearson
// 0.51586 0.97913 turned into a ratio, p/(1-p)).
func TestCountRatioAgainstR(t *testing.T) {
	rr, err := CountRatio([]float64{1, 1}, []float64{5, 5}, nil, nil, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Dispersion != 1 || !near(rr.Ratio, 5, 1e-9) || !near(rr.P, 0.03857, 1e-3) || !near(rr.Lo, 1.0655, 1e-3) || !near(rr.Hi, 46.92, 1e-3) {
		t.Errorf("CountRatio = %+v, want 5 [1.0655, 46.92], p 0.03857, dispersion 1", rr)
	}
}

// One boot with all the events is over-dispersion: the test must not take
// 40 events as 40 independent ones.
func TestCountRatioOverdispersed(t *testing.T) {
	zeros := []float64{0, 0, 0, 0, 0, 0, 0}
	rr, err := CountRatio(zeros, []float64{0, 0, 0, 0, 0, 0, 40}, nil, nil, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Dispersion < 10 || rr.P < 0.05 {
		t.Errorf("CountRatio(0 x7, 0 x6 + 40) = %+v, want dispersion > 10 and p >= 0.05", rr)
	}
	rr, _ = CountRatio(zeros, []float64{6, 5, 7, 6, 4, 6, 6}, nil, nil, 0.9)
	if rr.Dispersion > 1.5 || rr.P > 1e-6 {
		t.Errorf("CountRatio(0 x7, ~6 each) = %+v, want dispersion ~1 and a tiny p", rr)
	}
}

// Exposure: the same events out of twice as many samples are half the rate.
func TestCountRatioExposure(t *testing.T) {
	a, _ := CountRatio([]float64{3, 4, 5}, []float64{6, 8, 10}, nil, nil, 0.9)
	b, _ := CountRatio([]float64{3, 4, 5}, []float64{6, 8, 10}, []float64{100, 100, 100}, []float64{200, 200, 200}, 0.9)
	if !near(a.Ratio, 2, 1e-12) || !near(b.Ratio, 1, 1e-12) || !near(b.Lo, a.Lo/2, 1e-9) || b.P < 0.5 {
		t.Errorf("CountRatio without exposure = %+v, with the candidate's doubled = %+v, want ratios 2 and 1", a, b)
	}
}

// A/A on counts, 7 boots a side, Poisson and over-dispersed (gamma-Poisson:
// the boots' own rates vary): the exact test holds its level under Poisson;
// with the dispersion estimated from 12 degrees of freedom it is a little
// liberal when boots vary a lot (about 5.5% at a nominal 5%), never wildly.
func TestCountRatioAA(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	poisson := func(mean float64) float64 {
		n, p, l := 0.0, 1.0, math.Exp(-mean)
		for p *= r.Float64(); p > l; p *= r.Float64() {
			n++
		}
		return n
	}
	for _, tt := range []struct{ mean, shape float64 }{{2, 1}, {10, 1}, {10, 0}} {
		rej := 0
		const runs = 1000
		for i := 0; i < runs; i++ {
			var b, c []float64
			for j := 0; j < 7; j++ {
				lb, lc := tt.mean, tt.mean
				if tt.shape > 0 { // exponential rates: gamma of shape 1
					lb, lc = tt.mean*r.ExpFloat64(), tt.mean*r.ExpFloat64()
				}
				b, c = append(b, poisson(lb)), append(c, poisson(lc))
			}
			if rr, _ := CountRatio(b, c, nil, nil, 0.9); rr.P <= 0.05 {
				rej++
			}
		}
		rate := float64(rej) / runs
		t.Logf("counts A/A, mean %v, over-dispersed %v: p <= 0.05 in %.3f", tt.mean, tt.shape > 0, rate)
		if rate > 0.075 {
			t.Errorf("counts A/A (mean %v, over-dispersed %v): p <= 0.05 in %.3f of runs, want about 0.05 at most", tt.mean, tt.shape > 0, rate)
		}
	}
}
