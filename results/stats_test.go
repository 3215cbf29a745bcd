package results

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// Reference values from R 4.2 (wilcox.test and p.adjust), reproduced in the
// comments so they can be checked again.
func TestMannWhitneyAgainstR(t *testing.T) {
	tests := []struct {
		name       string
		base, cand []float64
		u, p       float64
	}{
		{
			// R's ?wilcox.test example: wilcox.test(y, x) -> W = 15, p = 0.2544 (exact).
			name: "exact-no-ties",
			base: []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46},
			cand: []float64{1.15, 0.88, 0.90, 0.74, 1.21},
			u:    15, p: 0.2544122544122544,
		},
		{
			// wilcox.test(y, x) with 12 values each -> W = 136, p = 4.95533541703955e-05 (exact).
			name: "exact-12",
			base: []float64{102.1, 98.4, 110.3, 95.2, 101.7, 99.9, 104.4, 97.3, 100.8, 103.9, 96.6, 108.2},
			cand: []float64{111.4, 109.2, 121.7, 104.8, 113.3, 118.0, 107.5, 115.9, 110.1, 119.6, 112.7, 106.3},
			u:    136, p: 4.95533541703955e-05,
		},
		{
			// x <- sqrt(1:60)*10; y <- sqrt(1:60)*10.7 + 0.013; wilcox.test(y, x)
			// -> normal approximation with continuity correction, p = 0.222347939863458.
			name: "normal-60",
			base: seq(60, func(i float64) float64 { return math.Sqrt(i) * 10 }),
			cand: seq(60, func(i float64) float64 { return math.Sqrt(i)*10.7 + 0.013 }),
			u:    -1, p: 0.222347939863458,
		},
		{
			// a <- (0:29) %% 7; b <- ((0:29)*3) %% 9; wilcox.test(b, a, exact=FALSE)
			// -> W = 465, p = 0.826611304485207 (tie and continuity correction).
			name: "normal-ties-30",
			base: seq(30, func(i float64) float64 { return math.Mod(i-1, 7) }),
			cand: seq(30, func(i float64) float64 { return math.Mod((i-1)*3, 9) }),
			u:    465, p: 0.826611304485207,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, p, err := MannWhitney(tt.base, tt.cand)
			if err != nil {
				t.Fatalf("MannWhitney: %v", err)
			}
			if tt.u >= 0 && u != tt.u {
				t.Errorf("MannWhitney U = %v, want %v", u, tt.u)
			}
			if !near(p, tt.p, 1e-9) {
				t.Errorf("MannWhitney p = %.15g, want %.15g", p, tt.p)
			}
		})
	}
}

func seq(n int, f func(float64) float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = f(float64(i + 1))
	}
	return v
}

// With ties and small samples the p-value must be the exact conditional
// (permutation) one. The reference is a brute-force enumeration of every
// split of the pooled values.
func TestMannWhitneyTiesExact(t *testing.T) {
	tests := []struct{ base, cand []float64 }{
		{[]float64{1, 2, 2, 3, 5}, []float64{2, 3, 4, 4, 6}},
		{[]float64{0, 0, 1, 1, 2}, []float64{1, 2, 2, 3, 3, 3}},
		{[]float64{7, 7, 7, 8}, []float64{8, 8, 9, 9}},
		// Asymmetric ties: the tail must be read on the candidate's side.
		{[]float64{1, 2, 2, 3, 3, 3}, []float64{0, 0, 1, 1, 2}},
		{[]float64{1, 2, 3, 4, 5, 6}, []float64{2, 5, 7, 8, 9, 10}}, // no ties

	}
	for _, tt := range tests {
		_, p, err := MannWhitney(tt.base, tt.cand)
		if err != nil {
			t.Fatal(err)
		}
		if want := permutationP(tt.base, tt.cand); !near(p, want, 1e-9) {
			t.Errorf("MannWhitney(%v, %v) p = %.12g, want %.12g (permutation)", tt.base, tt.cand, p, want)
		}
	}
}

// permutationP is the two-sided exact p of the U statistic (twice the
// smaller tail) by enumerating every assignment of the pooled values to the
// candidate side.
func permutationP(base, cand []float64) float64 {
	pool := append(append([]float64(nil), base...), cand...)
	n, n2 := len(pool), len(cand)
	uOf := func(c, b []float64) float64 {
		u := 0.0
		for _, x := range c {
			for _, y := range b {
				switch {
				case x > y:
					u++
				case x == y:
					u += 0.5
				}
			}
		}
		return u
	}
	obs := uOf(cand, base)
	lo, hi, total := 0, 0, 0
	for mask := 0; mask < 1<<n; mask++ {
		var c, b []float64
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				c = append(c, pool[i])
			} else {
				b = append(b, pool[i])
			}
		}
		if len(c) != n2 {
			continue
		}
		total++
		u := uOf(c, b)
		if u <= obs {
			lo++
		}
		if u >= obs {
			hi++
		}
	}
	return math.Min(1, 2*float64(min(lo, hi))/float64(total))
}

func TestHodgesLehmannAgainstR(t *testing.T) {
	tests := []struct {
		name        string
		base, cand  []float64
		est, lo, hi float64
		level, tol  float64
	}{
		{
			// wilcox.test(y, x, conf.int=TRUE): -0.305, [-0.76, 0.15], achieved 0.96004.
			name: "r-example",
			base: []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46},
			cand: []float64{1.15, 0.88, 0.90, 0.74, 1.21},
			est:  -0.305, lo: -0.76, hi: 0.15, level: 0.96004, tol: 1e-9,
		},
		{
			// 12 vs 12: 10.95, [6.4, 15.7].
			name: "exact-12",
			base: []float64{102.1, 98.4, 110.3, 95.2, 101.7, 99.9, 104.4, 97.3, 100.8, 103.9, 96.6, 108.2},
			cand: []float64{111.4, 109.2, 121.7, 104.8, 113.3, 118.0, 107.5, 115.9, 110.1, 119.6, 112.7, 106.3},
			est:  10.95, lo: 6.4, hi: 15.7, level: 0.955098004700912, tol: 1e-9, // 1-2*pwilcox(qwilcox(0.025,12,12)-1,12,12)
		},
		{
			// median(outer(y, x, "-")) = 4.03972662263771; R's large-sample
			// interval comes from inverting the normal approximation,
			// [-2.6387, 10.5414]; the order-statistic interval lands within
			// one difference of it.
			name: "normal-60",
			base: seq(60, func(i float64) float64 { return math.Sqrt(i) * 10 }),
			cand: seq(60, func(i float64) float64 { return math.Sqrt(i)*10.7 + 0.013 }),
			est:  4.03972662263771, lo: -2.6387, hi: 10.5414, level: 0.95, tol: 0.03,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := HodgesLehmann(tt.base, tt.cand, 0.95)
			if !near(s.Estimate, tt.est, 1e-9) {
				t.Errorf("HodgesLehmann estimate = %.15g, want %.15g", s.Estimate, tt.est)
			}
			if !near(s.Lo, tt.lo, tt.tol) || !near(s.Hi, tt.hi, tt.tol) {
				t.Errorf("HodgesLehmann CI = [%.15g, %.15g], want [%.15g, %.15g]", s.Lo, s.Hi, tt.lo, tt.hi)
			}
			if s.Level < 0.95-1e-9 || math.Abs(s.Level-tt.level) > 1e-4 {
				t.Errorf("HodgesLehmann level = %v, want %v (>= 0.95)", s.Level, tt.level)
			}
		})
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	// p.adjust(p, "BH") in R.
	p := []float64{0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216}
	want := []float64{0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.105714285714286, 0.216, 0.216, 0.216}
	// Order must not matter.
	perm := []int{9, 3, 0, 7, 5, 1, 8, 2, 6, 4}
	pp := make([]float64, len(p))
	for i, j := range perm {
		pp[i] = p[j]
	}
	q := BenjaminiHochberg(pp)
	for i, j := range perm {
		if !near(q[i], want[j], 1e-12) {
			t.Errorf("BenjaminiHochberg(p)[%d] (p=%v) = %.15g, want %.15g", i, pp[i], q[i], want[j])
		}
	}
	if q := BenjaminiHochberg(nil); len(q) != 0 {
		t.Errorf("BenjaminiHochberg(nil) = %v, want []", q)
	}
}

func TestBootsNeeded(t *testing.T) {
	tests := []struct {
		alpha float64
		m, n  int
	}{
		{0.05, 1, 4},  // 2/C(8,4) = 0.029
		{0.05, 40, 7}, // MEASUREMENT.md: ~40 metrics need 7 boots
		{0.05, 20, 6},
		{0.01, 40, 8},
	}
	for _, tt := range tests {
		if got := BootsNeeded(tt.alpha, tt.m); got != tt.n {
			t.Errorf("BootsNeeded(%v, %d) = %d, want %d", tt.alpha, tt.m, got, tt.n)
		}
	}
	if got, want := MinP(3, 3), 0.1; !near(got, want, 1e-12) {
		t.Errorf("MinP(3, 3) = %v, want %v", got, want)
	}
}

// go-moremath's UDist.CDF returns P(U = min) just below the smallest U the
// ties allow; MannWhitney must not inherit that. Every configuration of up
// to 6 against 4 values drawn from {0, 1, 2} (ties everywhere, and the
// observed U at its minimum often) is checked against enumeration.
func TestMannWhitneyExactAtTheEdge(t *testing.T) {
	_, p, err := MannWhitney([]float64{0, 0, 0, 0, 0, 2}, []float64{0, 0, 0})
	if err != nil || p != 1 {
		t.Errorf("MannWhitney(0,0,0,0,0,2 vs 0,0,0) p = %v, %v, want 1", p, err)
	}
	r := rand.New(rand.NewPCG(11, 12))
	bad := 0
	for i := 0; i < 400; i++ {
		nb, nc := 2+r.IntN(5), 2+r.IntN(3)
		base, cand := make([]float64, nb), make([]float64, nc)
		for j := range base {
			base[j] = float64(r.IntN(3))
		}
		for j := range cand {
			cand[j] = float64(r.IntN(2) * r.IntN(3))
		}
		_, p, err := MannWhitney(base, cand)
		if err != nil {
			continue
		}
		if want := permutationP(base, cand); !near(p, want, 1e-9) {
			bad++
			if bad < 5 {
				t.Errorf("MannWhitney(%v, %v) p = %.12g, want %.12g (enumeration)", base, cand, p, want)
			}
		}
	}
}

// A NaN never reaches go-moremath (it loops without end on one).
func TestMannWhitneyNaN(t *testing.T) {
	if _, _, err := MannWhitney([]float64{1, math.NaN(), 3}, []float64{1, 2, 3}); err == nil {
		t.Errorf("MannWhitney with a NaN: no error")
	}
}

// The level shown is the one achieved: at 3 against 3 boots the rank
// interval is at 90% whatever was asked, and says so.
func TestAchievedLevel(t *testing.T) {
	s := HodgesLehmann([]float64{1, 2, 3}, []float64{4, 5, 6}, 0.95)
	if !near(s.Level, 0.9, 1e-12) {
		t.Errorf("HodgesLehmann(3 vs 3, 0.95).Level = %v, want 0.9", s.Level)
	}
	m := MetricResult{Scale: LinearScale, Lo: s.Lo, Hi: s.Hi, Level: s.Level}
	if got := ciString(&m); !strings.HasSuffix(got, " 90%") {
		t.Errorf("ciString = %q, want the achieved 90%%", got)
	}
}

// q <= alpha is significant, as in Benjamini-Hochberg.
func TestJudgeAtAlpha(t *testing.T) {
	m := MetricResult{Better: LowerIsBetter, Threshold: 0.05, Scale: LogScale, Test: "welch-log",
		Base: []float64{1, 2, 3}, Cand: []float64{4, 5, 6}, Ratio: 1.5, Lo: 1.2, Hi: 1.8, P: 0.05, Q: 0.05}
	if v, why := judge(&m, 0.05, 1, 3); v != Regression {
		t.Errorf("judge(q = alpha) = %s (%q), want regression", v, why)
	}
}
