package results

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// metricGen makes one metric value for a boot.
type metricGen func(r *rand.Rand) Metric

// bootsOf makes n OK boots of kernel with one scenario "s" holding the
// generated metrics; seq numbers start at seq0.
func bootsOf(kernel string, n, seq0 int, r *rand.Rand, gens ...metricGen) []*Boot {
	var out []*Boot
	for i := 0; i < n; i++ {
		sc := Scenario{Name: "s", Valid: true}
		for _, g := range gens {
			sc.Metrics = append(sc.Metrics, g(r))
		}
		out = append(out, &Boot{Kernel: kernel, Index: i, Seq: seq0 + 2*i, Accel: "kvm", Outcome: OK, Scenarios: []Scenario{sc}})
	}
	return out
}

// lognormal makes a lower-is-better timing metric with median med and log
// spread sigma.
func lognormal(name string, med, sigma float64) metricGen {
	return func(r *rand.Rand) Metric {
		return Metric{Name: name, Unit: "ns", Better: LowerIsBetter, Timing: true, Value: med * math.Exp(sigma*r.NormFloat64())}
	}
}

func find(t *testing.T, k KernelResult, key string) MetricResult {
	t.Helper()
	for _, m := range k.Metrics {
		if m.Key == key {
			return m
		}
	}
	t.Fatalf("metric %s not in comparison of %s", key, k.Kernel)
	return MetricResult{}
}

// On A/A comparisons (both kernels draw from one distribution) the verdicts
// must say nothing changed: the family-wise rate of any significant metric
// stays near alpha (Benjamini-Hochberg controls it under the global null),
// regressions are rarer still, and the intervals cover "no change" at their
// level.
func TestAAFalseAlarms(t *testing.T) {
	const runs, metrics, n = 500, 20, 10
	r := rand.New(rand.NewPCG(1, 2))
	var gens []metricGen
	for i := 0; i < metrics; i++ {
		// Half the metrics are tight against their 5% threshold, half noisy.
		sigma := 0.02
		if i%2 == 1 {
			sigma = 0.08
		}
		gens = append(gens, lognormal(fmt.Sprintf("m%02d.p50", i), 1000, sigma))
	}
	var runsRegress, runsSig, tests, rawSig, covered, judged int
	verdicts := map[Verdict]int{}
	for run := 0; run < runs; run++ {
		boots := append(bootsOf("a", n, 0, r, gens...), bootsOf("b", n, 1, r, gens...)...)
		c := Compare("a", boots, CompareOptions{})
		k := c.Kernels[0]
		anyReg, anySig := false, false
		for _, m := range k.Metrics {
			verdicts[m.Verdict]++
			tests++
			if m.P < 0.05 {
				rawSig++
			}
			if m.Q < 0.05 {
				anySig = true
			}
			if m.Verdict == Regression || m.Verdict == Improvement {
				anyReg = true
			}
			if m.Lo <= 1 && 1 <= m.Hi {
				covered++
			}
			judged++
		}
		if anyReg {
			runsRegress++
		}
		if anySig {
			runsSig++
		}
	}
	regRate := float64(runsRegress) / runs
	sigRate := float64(runsSig) / runs
	rawRate := float64(rawSig) / float64(tests)
	coverage := float64(covered) / float64(judged)
	t.Logf("A/A, %d runs of %d vs %d boots, %d metrics: runs with a regression/improvement %.3f, runs with any q<0.05 %.3f, per-test p<0.05 %.4f, CI coverage %.4f, verdicts %v",
		runs, n, n, metrics, regRate, sigRate, rawRate, coverage, verdicts)
	// 500 runs: the binomial standard error at 0.05 is about 0.01.
	if sigRate > 0.08 {
		t.Errorf("A/A family-wise significance rate = %.3f, want <= ~0.05", sigRate)
	}
	if regRate > 0.08 {
		t.Errorf("A/A false regression rate = %.3f, want <= ~0.05", regRate)
	}
	if rawRate > 0.06 {
		t.Errorf("A/A per-test p<0.05 rate = %.4f, want <= ~0.05", rawRate)
	}
	// The intervals are at 1-2*alpha (see decide.go).
	if coverage < 0.89 {
		t.Errorf("A/A interval coverage = %.4f, want >= ~0.90", coverage)
	}
	// The tight half should mostly be found equivalent.
	if verdicts[Equivalent] < tests*4/10 {
		t.Errorf("A/A equivalent verdicts = %d of %d, want most of the tight half", verdicts[Equivalent], tests)
	}
}

func TestCompareVerdicts(t *testing.T) {
	tests := []struct {
		name        string
		n           int
		shift       float64
		better      Direction
		want        Verdict
		wantReason  string
		extraMetric int // more metrics in the family
	}{
		{"30% slower, 10 boots", 10, 1.3, LowerIsBetter, Regression, "", 19},
		{"30% faster, 10 boots", 10, 1 / 1.3, LowerIsBetter, Improvement, "", 19},
		{"30% more ops/s, 10 boots", 10, 1.3, HigherIsBetter, Improvement, "", 19},
		// The t-test on log values decides where the exact rank test could
		// not reach alpha (it needed 7 boots with 40 metrics).
		{"30% slower, 3 boots", 3, 1.3, LowerIsBetter, Inconclusive, "interval beyond the threshold but not significant after correction", 19},
		{"30% slower, 6 boots, 40 metrics", 6, 1.3, LowerIsBetter, Regression, "", 39},
		{"same, 10 boots", 10, 1, LowerIsBetter, Equivalent, "", 19},
		{"6% slower, 10 boots", 10, 1.06, LowerIsBetter, Inconclusive, "CI straddles the threshold", 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			gen := func(scale float64) []metricGen {
				g := []metricGen{func(r *rand.Rand) Metric {
					m := lognormal("x.p50", 1000*scale, 0.03)(r)
					m.Better = tt.better
					return m
				}}
				for i := 0; i < tt.extraMetric; i++ {
					g = append(g, lognormal(fmt.Sprintf("y%02d.p50", i), 500, 0.03))
				}
				return g
			}
			boots := append(bootsOf("base", tt.n, 0, r, gen(1)...), bootsOf("cand", tt.n, 1, r, gen(tt.shift)...)...)
			c := Compare("base", boots, CompareOptions{})
			m := find(t, c.Kernels[0], "s/x.p50")
			if m.Verdict != tt.want || !strings.Contains(m.Reason, tt.wantReason) {
				t.Errorf("Compare verdict = %s (%q; ratio %.3f [%.3f, %.3f], p %.3g q %.3g), want %s (%q)",
					m.Verdict, m.Reason, m.Ratio, m.Lo, m.Hi, m.P, m.Q, tt.want, tt.wantReason)
			}
			if tt.shift != 1 && math.Abs(m.Ratio/tt.shift-1) > 0.05 {
				t.Errorf("Compare ratio = %.3f, want about %.3f", m.Ratio, tt.shift)
			}
			if got := c.Failed(nil); got != (tt.want == Regression) {
				t.Errorf("Failed(nil) = %v, want %v", got, tt.want == Regression)
			}
		})
	}
}

func TestCompareSpecialCases(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tail := func(samples int64) metricGen {
		return func(r *rand.Rand) Metric {
			m := lognormal("lat.p99.9", 5000, 0.05)(r)
			m.Quantile, m.Samples = 99.9, samples
			return m
		}
	}
	info := func(r *rand.Rand) Metric {
		return Metric{Name: "cwnd", Unit: "segments", Better: Info, Value: 10}
	}
	stalls := func(v float64) metricGen {
		return func(r *rand.Rand) Metric {
			return Metric{Name: "stalls", Unit: "count", Better: LowerIsBetter, Value: v + float64(r.IntN(2))}
		}
	}
	boots := bootsOf("base", 8, 0, r, tail(50_000), info, stalls(0), lognormal("t.p50", 100, 0.02))
	cand := bootsOf("cand", 8, 1, r, tail(200_000), info, stalls(40), lognormal("t.p50", 100, 0.02))
	cand[0].Outcome, cand[0].Reason, cand[0].Scenarios = KernelPanic, "Kernel panic - not syncing", nil
	cand[3].Outcome, cand[3].Scenarios = KernelPanic, nil
	cand[5].Outcome, cand[5].Scenarios = InfraError, nil
	for _, b := range cand {
		b.Accel = "tcg"
	}
	all := append(boots, cand...)

	c := Compare("base", all, CompareOptions{})
	k := c.Kernels[0]
	if len(k.Faults) != 1 || k.Faults[0].String() != "kernel-panic in 2 of 7 boots" || k.Faults[0].Verdict != Regression {
		t.Errorf("Compare faults = %v, want [kernel-panic in 2 of 7 boots]", k.Faults)
	}
	if k.Boots.InfraError != 1 || k.Boots.OK != 5 {
		t.Errorf("Compare boots = %+v, want 5 OK and 1 infra error", k.Boots)
	}
	if !c.Failed(nil) {
		t.Errorf("Failed(nil) = false with a panicking kernel, want true")
	}
	checks := []struct {
		key    string
		want   Verdict
		reason string
	}{
		{"s/lat.p99.9", NotComparable, "baseline ran under kvm, candidate under tcg"},
		{"s/cwnd", Informational, ""},
		{"s/stalls", Regression, ""}, // counts are not timings: compared across accels
		{"s/t.p50", NotComparable, "baseline ran under kvm, candidate under tcg"},
	}
	for _, ch := range checks {
		m := find(t, k, ch.key)
		if m.Verdict != ch.want || m.Reason != ch.reason {
			t.Errorf("Compare %s = %s (%q), want %s (%q)", ch.key, m.Verdict, m.Reason, ch.want, ch.reason)
		}
	}
	if m := find(t, k, "s/stalls"); m.Scale != CountScale || m.Test != "counts" {
		t.Errorf("Compare s/stalls scale = %s, test %s, want counts", m.Scale, m.Test)
	}

	c = Compare("base", all, CompareOptions{AllowMixedAccel: true, Thresholds: map[string]float64{"*.p50": 0.5}})
	if m := find(t, c.Kernels[0], "s/lat.p99.9"); m.Verdict != Underpowered || m.Reason != "p99.9 needs 100000 samples per boot, fewest was 50000" {
		t.Errorf("Compare s/lat.p99.9 = %s (%q), want underpowered", m.Verdict, m.Reason)
	}
	m := find(t, c.Kernels[0], "s/t.p50")
	if m.Verdict == NotComparable || m.Threshold != 0.5 {
		t.Errorf("Compare with AllowMixedAccel: s/t.p50 = %s threshold %v, want judged with threshold 0.5", m.Verdict, m.Threshold)
	}
	if !slices.ContainsFunc(c.Kernels[0].Notes, func(s string) bool { return strings.Contains(s, "ACROSS MACHINES") }) {
		t.Errorf("Compare with AllowMixedAccel notes = %q, want a loud note", c.Kernels[0].Notes)
	}
	if !c.Failed([]Verdict{Underpowered}) {
		t.Errorf("Failed([underpowered]) = false, want true")
	}
}

func TestThreshold(t *testing.T) {
	opts := map[string]float64{"timer/*": 0.3, "timer/fifo.p99": 0.4, "*.max": 0.5}
	tests := []struct {
		key  string
		m    Metric
		want float64
	}{
		{"a/x.p50", Metric{Name: "x.p50", Quantile: 50}, 0.05},
		{"a/x.mean", Metric{Name: "x.mean"}, 0.05},
		{"a/tps", Metric{Name: "tps", Unit: "ops/s"}, 0.05},
		{"a/x.p99", Metric{Name: "x.p99", Quantile: 99}, 0.15},
		{"a/x.p99.9", Metric{Name: "x.p99.9", Quantile: 99.9}, 0.20},
		{"a/x.p99.9", Metric{Name: "x.p99.9"}, 0.20},
		{"a/x.max", Metric{Name: "x.max", Threshold: 0.25}, 0.5},
		{"a/switches", Metric{Name: "switches"}, 0.10},
		{"a/switches", Metric{Name: "switches", Threshold: 0.07}, 0.07},
		{"timer/fifo.p99", Metric{Name: "fifo.p99", Threshold: 0.07}, 0.4},
		{"timer/fifo.p50", Metric{Name: "fifo.p50"}, 0.3},
	}
	for _, tt := range tests {
		if got := threshold(tt.key, tt.m, opts); got != tt.want {
			t.Errorf("threshold(%s, %+v) = %v, want %v", tt.key, tt.m, got, tt.want)
		}
	}
}

func TestWhatChanged(t *testing.T) {
	base := Kernel{Name: "a", Release: "6.1.0-54-cloud-amd64", Config: map[string]string{"CONFIG_HZ": "250", "CONFIG_PREEMPT_VOLUNTARY": "y", "CONFIG_EXT4_FS": "y"},
		Sysctl: map[string]string{"net.ipv4.tcp_slow_start_after_idle": "1"}}
	cand := Kernel{Name: "b", Release: "6.12.117+deb12-rt-amd64", Config: map[string]string{"CONFIG_HZ": "1000", "CONFIG_PREEMPT_RT": "y", "CONFIG_EXT4_FS": "m"},
		Cmdline: "preempt=full", Sysctl: map[string]string{"net.ipv4.tcp_slow_start_after_idle": "1"}}
	bf := map[string]string{"sched.base_slice_ns": "", "clocksource": "tsc", "uname": "x", "sysctl.net.ipv4.tcp_congestion_control": "cubic"}
	cf := map[string]string{"sched.base_slice_ns": "3000000", "clocksource": "tsc", "uname": "y", "sysctl.net.ipv4.tcp_congestion_control": "bbr"}
	got := WhatChanged(base, cand, bf, cf)
	want := []Change{
		{"release", "release", "6.1.0-54-cloud-amd64", "6.12.117+deb12-rt-amd64"},
		{"config", "CONFIG_HZ", "250", "1000"},
		{"config", "CONFIG_PREEMPT_RT", "", "y"},
		{"config", "CONFIG_PREEMPT_VOLUNTARY", "y", ""},
		{"cmdline", "cmdline", "", "preempt=full"},
		{"fact", "sched.base_slice_ns", "", "3000000"},
		{"fact", "sysctl.net.ipv4.tcp_congestion_control", "cubic", "bbr"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("WhatChanged = %+v\nwant %+v", got, want)
	}
}

// A max (quantile 100) is a boot's worst case: judged across boots like any
// per-boot value when the boots took similar sample counts, not comparable
// when they did not; never "underpowered" with an impossible sample count.
func TestCompareMax(t *testing.T) {
	maxOf := func(samples func(i int) int64, scale float64) metricGen {
		i := 0
		return func(r *rand.Rand) Metric {
			i++
			return Metric{Name: "lat.max", Unit: "ns", Better: LowerIsBetter, Timing: true, Quantile: 100,
				Samples: samples(i), Value: scale * 1e6 * math.Exp(0.05*r.NormFloat64())}
		}
	}
	even := func(int) int64 { return 10000 }
	tests := []struct {
		name        string
		base, cand  metricGen
		want        Verdict
		wantInReson string
	}{
		{"same", maxOf(even, 1), maxOf(even, 1), Equivalent, ""},
		{"doubled", maxOf(even, 1), maxOf(even, 2), Regression, ""},
		{"few samples each", maxOf(func(int) int64 { return 20 }, 1), maxOf(func(int) int64 { return 20 }, 2), Regression, ""},
		{"uneven samples", maxOf(even, 1), maxOf(func(i int) int64 { return int64(1000 * i) }, 1), NotComparable, "similar sample counts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 8))
			boots := append(bootsOf("a", 10, 0, r, tc.base), bootsOf("b", 10, 1, r, tc.cand)...)
			m := find(t, Compare("a", boots, CompareOptions{}).Kernels[0], "s/lat.max")
			if m.Verdict != tc.want || !strings.Contains(m.Reason, tc.wantInReson) {
				t.Errorf("Compare(max %s) = %s (%s), want %s", tc.name, m.Verdict, m.Reason, tc.want)
			}
			if strings.Contains(m.Reason, "-") || strings.Contains(m.Reason, "p100") {
				t.Errorf("Compare(max %s) reason = %q, want no impossible sample count", tc.name, m.Reason)
			}
		})
	}
}

// Join keeps each candidate's own baseline, sums the baselines' boots and
// keeps a note shared by the comparisons once.
func TestJoin(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := lognormal("lat.p50", 1000, 0.02)
	var cs []*Comparison
	for _, name := range []string{"x", "y"} {
		boots := append(bootsOf(name+"@old", 4, 0, r, gen), bootsOf(name+"@new", 5, 1, r, gen)...)
		c := Compare(name+"@old", boots, CompareOptions{})
		c.Notes = []string{"shared note"}
		cs = append(cs, c)
	}
	j := Join("old run", cs)
	if j.Baseline != "old run" || j.BaselineBoots.Total != 8 || len(j.Kernels) != 2 || !slices.Equal(j.Notes, []string{"shared note"}) {
		t.Fatalf("Join = baseline %q, %d baseline boots, %d kernels, notes %q; want old run, 8, 2, one note", j.Baseline, j.BaselineBoots.Total, len(j.Kernels), j.Notes)
	}
	for i, want := range []string{"x@old", "y@old"} {
		k := &j.Kernels[i]
		if got := j.BaselineOf(k); got != want || k.BaseBoots == nil || k.BaseBoots.Total != 4 {
			t.Errorf("Join: kernel %s against %q with %+v baseline boots, want %s with 4", k.Kernel, got, k.BaseBoots, want)
		}
	}
	var b strings.Builder
	if err := WriteText(&b, j, nil, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"x@new vs x@old", "y@new vs y@old", "baseline y@old: 4 boots, 4 ok"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("WriteText(joined) lacks %q:\n%s", want, b.String())
		}
	}
}

// The metrics of a comparison come in the order of the scenarios the boots
// ran, whichever boot first had a valid run of each: two runs of one plan
// list the same rows in the same order.
func TestCompareMetricOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	mk := func(kernel string, seq int, firstValid bool) *Boot {
		a := Scenario{Name: "a", Valid: firstValid}
		if firstValid {
			a.Metrics = []Metric{lognormal("x", 10, 0.1)(r), lognormal("y", 10, 0.1)(r)}
		} else {
			a.Invalid = "window too short"
		}
		b := Scenario{Name: "b", Valid: true, Metrics: []Metric{lognormal("z", 10, 0.1)(r)}}
		return &Boot{Kernel: kernel, Seq: seq, Accel: "kvm", Outcome: OK, Scenarios: []Scenario{a, b}}
	}
	keys := func(c *Comparison) []string {
		var ks []string
		for _, m := range c.Kernels[0].Metrics {
			ks = append(ks, m.Key)
		}
		return ks
	}
	want := []string{"a/x", "a/y", "b/z"}
	// In the second run, scenario a is invalid in the first boots.
	runs := [][]*Boot{
		{mk("base", 0, true), mk("cand", 1, true), mk("base", 2, true), mk("cand", 3, true)},
		{mk("base", 0, false), mk("cand", 1, false), mk("base", 2, true), mk("cand", 3, true)},
	}
	for i, boots := range runs {
		if got := keys(Compare("base", boots, CompareOptions{})); !slices.Equal(got, want) {
			t.Errorf("run %d: metric order %v, want %v", i, got, want)
		}
	}
}

// valuesOf makes one boot per value of kernel with metric m set to it.
func valuesOf(kernel string, seq0 int, m Metric, vals ...float64) []*Boot {
	var out []*Boot
	for i, v := range vals {
		mm := m
		mm.Value = v
		out = append(out, &Boot{Kernel: kernel, Index: i, Seq: seq0 + 2*i, Accel: "kvm", Outcome: OK,
			Scenarios: []Scenario{{Name: "s", Valid: true, Metrics: []Metric{mm}}}})
	}
	return out
}

// Rare events and fractions: never "equivalent" from an interval that ties
// or zeros make narrow, and a fraction judged by its rarer side.
func TestCompareCountsAndFractions(t *testing.T) {
	stalls := Metric{Name: "stalls", Unit: "count", Better: LowerIsBetter}
	missed := Metric{Name: "missed_fraction", Unit: "ratio", Better: LowerIsBetter, Timing: true}
	tests := []struct {
		name       string
		m          Metric
		base, cand []float64
		want       Verdict
		reason     string
	}{
		{"one boot with all the events", stalls, []float64{0, 0, 0, 0, 0, 0, 0}, []float64{0, 0, 0, 0, 0, 0, 40}, Inconclusive, "CI straddles"},
		{"no events at all", stalls, []float64{0, 0, 0, 0, 0, 0, 0}, []float64{0, 0, 0, 0, 0, 0, 0}, Inconclusive, "no events on either side"},
		{"events in every boot", stalls, []float64{0, 1, 0, 0, 1, 0, 1}, []float64{6, 5, 9, 7, 4, 6, 8}, Regression, ""},
		// rt-hog on 6.1 and 6.12-rt: the fair thread met 4.5% of its
		// deadlines, then none.
		{"missed 0.9555 -> 1", missed, []float64{0.955, 0.96, 0.95, 0.9555, 0.958, 0.953, 0.956}, []float64{1, 1, 1, 1, 1, 1, 1}, Regression, ""},
		{"missed 0.9555 -> 1, out of 2000 periods", Metric{Name: "missed_fraction", Unit: "ratio", Better: LowerIsBetter, Fraction: true, Samples: 2000},
			[]float64{0.955, 0.96, 0.95, 0.9555, 0.958, 0.953, 0.956}, []float64{1, 1, 1, 1, 1, 1, 1}, Regression, ""},
		{"fraction unchanged", missed, []float64{0.955, 0.96, 0.95, 0.9555, 0.958, 0.953, 0.956}, []float64{0.956, 0.954, 0.957, 0.955, 0.959, 0.952, 0.955}, Equivalent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boots := append(valuesOf("a", 0, tt.m, tt.base...), valuesOf("b", 1, tt.m, tt.cand...)...)
			m := find(t, Compare("a", boots, CompareOptions{}).Kernels[0], "s/"+tt.m.Name)
			if m.Verdict != tt.want || !strings.Contains(m.Reason, tt.reason) {
				t.Errorf("Compare %v vs %v = %s (%q; %s %.3g [%.3g, %.3g] p %.3g), want %s (%q)",
					tt.base, tt.cand, m.Verdict, m.Reason, m.Test, m.Ratio, m.Lo, m.Hi, m.P, tt.want, tt.reason)
			}
		})
	}
}

// A doubled rare-event rate was called equivalent in half of 7-boot runs
// when counts were compared like timings; as counts, never.
func TestCompareDoubledRareEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	poisson := func(mean float64) float64 {
		n, p, l := 0.0, 1.0, math.Exp(-mean)
		for p *= r.Float64(); p > l; p *= r.Float64() {
			n++
		}
		return n
	}
	stalls := Metric{Name: "stalls", Unit: "count", Better: LowerIsBetter}
	verdicts := map[Verdict]int{}
	for run := 0; run < 200; run++ {
		var b, c []float64
		for i := 0; i < 7; i++ {
			b, c = append(b, poisson(0.5)), append(c, poisson(1))
		}
		boots := append(valuesOf("a", 0, stalls, b...), valuesOf("b", 1, stalls, c...)...)
		verdicts[find(t, Compare("a", boots, CompareOptions{}).Kernels[0], "s/stalls").Verdict]++
	}
	if verdicts[Equivalent] > 0 || verdicts[Improvement] > 0 {
		t.Errorf("doubled rare-event rate, 200 runs of 7 boots: verdicts %v, want no equivalent and no improvement", verdicts)
	}
}

// A NaN is left out, said, and never reaches a test; a metric with no value
// on one side is reported as not comparable.
func TestCompareNaNAndMissing(t *testing.T) {
	m := Metric{Name: "lat.p50", Unit: "ns", Better: LowerIsBetter}
	boots := append(valuesOf("a", 0, m, 100, math.NaN(), 101, 99), valuesOf("b", 1, m, 100, 102, 98, 101)...)
	got := find(t, Compare("a", boots, CompareOptions{}).Kernels[0], "s/lat.p50")
	if len(got.Base) != 3 || !strings.Contains(got.Reason, "1 NaN or infinite values left out") {
		t.Errorf("Compare with a NaN: %d base values, reason %q, want 3 and the NaN said", len(got.Base), got.Reason)
	}
	boots = append(valuesOf("a", 0, m, math.NaN(), math.NaN()), valuesOf("b", 1, m, 100, 102)...)
	got = find(t, Compare("a", boots, CompareOptions{}).Kernels[0], "s/lat.p50")
	if got.Verdict != NotComparable || !strings.Contains(got.Reason, "no valid values on the baseline side (2 NaN") {
		t.Errorf("Compare with NaN only on one side = %s (%q), want not-comparable, said", got.Verdict, got.Reason)
	}
}
