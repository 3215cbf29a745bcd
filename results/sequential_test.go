package results

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSpendOBF(t *testing.T) {
	// 2 - 2 Phi(1.959964 / sqrt(t)).
	for _, tt := range []struct{ t, want float64 }{{0, 0}, {0.3, 0.000346}, {0.5, 0.005575}, {0.7, 0.019150}, {1, 0.05}} {
		if got := SpendOBF(0.05, tt.t); math.Abs(got-tt.want) > 2e-6 {
			t.Errorf("SpendOBF(0.05, %v) = %.6f, want %.6f", tt.t, got, tt.want)
		}
	}
}

// adaptive runs rounds of one boot per kernel (a b, then b a, ...) with a
// look after rounds 3, 5, 7 and 10, as the run flow would, and returns the
// looks and each kernel's verdict on s/lat.p50 from its deciding look.
func adaptive(r *rand.Rand, shift map[string]float64, sd float64) ([]Look, map[string]Verdict) {
	var boots []*Boot
	var looks []Look
	var comparisons []*Comparison
	verdicts := map[string]Verdict{}
	more := map[string]bool{"b": true, "c": true}
	for round := 0; round < 10; round++ {
		for _, k := range []string{"a", "b", "c"} {
			if k != "a" && !more[k] {
				continue
			}
			sc := Scenario{Name: "s", Valid: true}
			for j, name := range []string{"lat.p50", "rate", "lat.p99"} {
				v := 1000 * math.Exp(sd*r.NormFloat64())
				if j == 0 {
					v *= shift[k]
				}
				sc.Metrics = append(sc.Metrics, Metric{Name: name, Unit: "ns", Better: LowerIsBetter, Value: v, Primary: j < 2})
			}
			boots = append(boots, &Boot{Kernel: k, Index: round, Seq: len(boots), Accel: "kvm", Outcome: OK, Scenarios: []Scenario{sc}})
		}
		if n := round + 1; n != 3 && n != 5 && n != 7 && n != 10 {
			continue
		}
		look, c := NextLook("a", boots, looks, SequentialOptions{})
		looks, comparisons = append(looks, look), append(comparisons, c)
		for _, kl := range look.Kernels {
			more[kl.Kernel] = kl.More
		}
	}
	for _, kr := range Final(looks, comparisons).Kernels {
		for _, m := range kr.Metrics {
			if m.Key == "s/lat.p50" {
				verdicts[kr.Kernel] = m.Verdict
			}
		}
	}
	return looks, verdicts
}

// Across looks the error rate holds: an A/A kernel is flagged in at most 5%
// of adaptive runs; a 30% shift is found; every look is recorded, alpha is
// spent in increments up to 0.05, a decided kernel stays decided, and what
// stays undecided is listed.
func TestNextLook(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const runs = 150
	var aaFlagged, found, undecidedRate int
	for run := 0; run < runs; run++ {
		looks, v := adaptive(r, map[string]float64{"a": 1, "b": 1, "c": 1.3}, 0.10)
		if v["b"] == Regression || v["b"] == Improvement {
			aaFlagged++
		}
		if v["c"] == Regression {
			found++
		}
		spent := 0.0
		decidedAt := 0
		for i, l := range looks {
			if l.Number != i+1 || len(l.Kernels) != 2 {
				t.Fatalf("look %d = %+v, want number %d and two kernels", i, l, i+1)
			}
			c := l.Kernels[1]
			if c.Spent < spent || c.Spent > 0.05+1e-12 {
				t.Fatalf("look %d spent %v after %v, want increasing to at most 0.05", l.Number, c.Spent, spent)
			}
			spent = c.Spent
			if decidedAt > 0 && (!c.Decided || c.DecidedAt != decidedAt || c.More) {
				t.Fatalf("look %d of a kernel decided at %d = %+v", l.Number, decidedAt, c)
			}
			if c.Decided && decidedAt == 0 {
				decidedAt = c.DecidedAt
			}
		}
		// The unchanged primary metric cannot be shown inside ±5% at a
		// between-boot sd of 10% with 10 boots: it is what stays undecided,
		// and the last look wants no more rounds.
		if c := looks[len(looks)-1].Kernels[1]; !c.Decided && len(c.Undecided) == 1 && c.Undecided[0] == "s/rate" && !c.More {
			undecidedRate++
		}
	}
	t.Logf("%d adaptive runs: A/A flagged %d, 30%% shift found %d, only s/rate undecided at the end %d", runs, aaFlagged, found, undecidedRate)
	if float64(aaFlagged)/runs > 0.05 {
		t.Errorf("A/A kernel flagged in %d of %d adaptive runs, want <= 5%%", aaFlagged, runs)
	}
	if float64(found)/runs < 0.8 || float64(undecidedRate)/runs < 0.8 {
		t.Errorf("30%% shift found in %d of %d runs, only s/rate undecided in %d, want >= 80%% each", found, runs, undecidedRate)
	}
}

// A large change on a quiet host is decided at an early look; the kernel
// then gets no more boots, stays decided, and keeps that look's verdicts.
func TestNextLookDecidesEarly(t *testing.T) {
	looks, v := adaptive(rand.New(rand.NewPCG(41, 42)), map[string]float64{"a": 1, "b": 1, "c": 2}, 0.01)
	first := looks[0].Kernels[1]
	last := looks[len(looks)-1].Kernels[1]
	if last.Kernel != "c" || !last.Decided || last.More || last.DecidedAt > 2 || last.Boots > 5 || v["c"] != Regression {
		t.Errorf("kernel c: first look %+v, last %+v, verdict %s; want decided by look 2 with at most 5 boots, a regression", first, last, v["c"])
	}
}
