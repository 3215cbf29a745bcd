package results

import (
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
)

// Verdict is the judgement on one metric (or one kernel's boots).
type Verdict string

const (
	// Regression: significant after correction, and the whole confidence
	// interval is beyond the threshold in the bad direction.
	Regression Verdict = "regression"
	// Improvement: likewise in the good direction.
	Improvement Verdict = "improvement"
	// Equivalent: the confidence interval lies inside ±threshold.
	Equivalent Verdict = "equivalent"
	// Inconclusive: none of the above; the reason says what would help.
	Inconclusive Verdict = "inconclusive"
	// Underpowered: a tail quantile from too few samples per boot; reported,
	// never judged.
	Underpowered Verdict = "underpowered"
	// NotComparable: the two sides cannot be compared (timings from
	// different accelerators or hosts, no values on one side).
	NotComparable Verdict = "not-comparable"
	// Informational: an Info metric, shown and never judged.
	Informational Verdict = "info"
)

// verdictRank orders verdicts for reports: what needs attention first.
var verdictRank = map[Verdict]int{
	Regression: 0, Improvement: 1, Inconclusive: 2, Underpowered: 3,
	NotComparable: 4, Equivalent: 5, Informational: 6,
}

// PrimaryShare is the part of alpha the primary metrics of a kernel share
// in its Benjamini-Hochberg family; the secondary ones share the rest.
const PrimaryShare = 0.8

// ComparisonSchema names the JSON form of a Comparison; it changes when a
// field changes meaning or is removed. See SCHEMA.md.
const ComparisonSchema = "kvet.comparison/v2"

// CompareOptions tunes Compare. The zero value works.
type CompareOptions struct {
	// Alpha is the false discovery rate for Benjamini-Hochberg and 1 minus
	// the confidence of the intervals. Default 0.05.
	Alpha float64
	// Thresholds maps metric key globs ("timer/*.p99", "nagle/*", or a bare
	// metric-name glob such as "*.p99.9", which matches in every scenario) to
	// a relative threshold (0.05 = 5%). The longest matching pattern wins
	// over the metric's own Threshold, which wins over the default for its
	// kind.
	Thresholds map[string]float64
	// MinBoots is the number of OK boots each side needs before a metric is
	// judged at all. Default 2 (a single boot has no spread).
	MinBoots int
	// Paired compares the boots of one round (same boot index) as pairs
	// when every boot has its partner: the paired t-test instead of Welch's.
	// Pairing removes the host drift a round shares; without drift it costs
	// half the degrees of freedom, and power with them (see the README's
	// statistics section), so it is for hosts known to drift.
	Paired bool
	// AllowMixedAccel compares timing metrics across accelerators and hosts
	// (the report still says so).
	AllowMixedAccel bool
	// Kernels are the run's kernels; when set, each candidate's Changes say
	// what differs from the baseline (see WhatChanged).
	Kernels []Kernel
	// Hosts maps a kernel name to the host its boots ran on, for comparisons
	// across runs; timing metrics from different hosts are not compared. Nil:
	// all boots ran on one host.
	Hosts map[string]Host
}

// Comparison is every candidate kernel judged against the baseline.
type Comparison struct {
	Schema        string     `json:"schema"`
	Baseline      string     `json:"baseline"`
	Alpha         float64    `json:"alpha"`
	BaselineBoots BootCounts `json:"baseline_boots"`
	// BaselineAccel lists the accelerators of the baseline's OK boots.
	BaselineAccel []string       `json:"baseline_accel,omitempty"`
	Kernels       []KernelResult `json:"kernels"`
	// Notes are caveats about the whole comparison (TCG timings, a baseline
	// that panics).
	Notes []string `json:"notes,omitempty"`
	// Looks is how many times an adaptive run looked at its boots, and
	// Stop why it booted no more.
	Looks int    `json:"looks,omitempty"`
	Stop  string `json:"stop,omitempty"`
}

// BootCounts counts a kernel's boots by outcome.
type BootCounts struct {
	Total       int `json:"total"`
	OK          int `json:"ok"`
	KernelPanic int `json:"kernel_panic,omitempty"`
	Hang        int `json:"hang,omitempty"`
	AgentError  int `json:"agent_error,omitempty"`
	InfraError  int `json:"infra_error,omitempty"`
}

// Judged is the number of boots that say something about the kernel: all
// but infrastructure errors.
func (b BootCounts) Judged() int { return b.Total - b.InfraError }

func (b *BootCounts) add(o Outcome) {
	b.Total++
	switch o {
	case OK:
		b.OK++
	case KernelPanic:
		b.KernelPanic++
	case Hang:
		b.Hang++
	case AgentError:
		b.AgentError++
	case InfraError:
		b.InfraError++
	}
}

// Fault is a kernel-level finding: boots that panicked, hung or whose agent
// failed. It is a regression of the kernel.
type Fault struct {
	Verdict Verdict `json:"verdict"`
	Outcome Outcome `json:"outcome"`
	Count   int     `json:"count"`
	Of      int     `json:"of"` // boots that were not infrastructure errors
	// Boots are the affected boot keys; Reason is the first one's reason.
	Boots  []string `json:"boots"`
	Reason string   `json:"reason,omitempty"`
	// Decisive are the first one's console lines that say what happened.
	Decisive []string `json:"decisive,omitempty"`
}

// String reads "kernel-panic in 2 of 3 boots".
func (f Fault) String() string {
	return fmt.Sprintf("%s in %d of %d boots", f.Outcome, f.Count, f.Of)
}

// KernelResult is one candidate kernel against the baseline.
type KernelResult struct {
	Kernel string     `json:"kernel"`
	Boots  BootCounts `json:"boots"`
	// Against is this kernel's own baseline when it differs from the
	// comparison's (a comparison of two runs pairs each kernel with its old
	// self, see Join); BaseBoots then counts that baseline's boots.
	Against   string      `json:"against,omitempty"`
	BaseBoots *BootCounts `json:"base_boots,omitempty"`
	Accel     []string    `json:"accel,omitempty"`
	// Faults come first in every report.
	Faults []Fault `json:"faults,omitempty"`
	// Tests and SecondaryTests count the primary and the secondary metrics
	// with a p-value: one weighted Benjamini-Hochberg family in which the
	// primary ones share PrimaryShare of alpha.
	Tests          int `json:"tests"`
	SecondaryTests int `json:"secondary_tests,omitempty"`
	// BootsNeeded is how many boots per kernel the exact rank test needs to
	// reach a primary metric's share of Alpha (the t-tests on log
	// values and the count tests have no such floor).
	BootsNeeded int `json:"boots_needed,omitempty"`
	// Look is the look of an adaptive run whose comparison holds this
	// kernel's verdicts, and Alpha the level that look tested at (its share
	// of the run's alpha).
	Look    int            `json:"look,omitempty"`
	Alpha   float64        `json:"alpha,omitempty"`
	Metrics []MetricResult `json:"metrics"`
	Changes []Change       `json:"changes,omitempty"`
	Notes   []string       `json:"notes,omitempty"`
}

// Scale says how a metric's shift is estimated.
type Scale string

const (
	// LogScale: Hodges-Lehmann shift of log values, reported as the ratio
	// exp(shift). Used when every value on both sides is > 0.
	LogScale Scale = "log"
	// CountScale: events counted per boot, compared as counts; the ratio is
	// the candidate's event rate over the baseline's.
	CountScale Scale = "count"
	// LinearScale: Hodges-Lehmann shift of the values themselves, reported
	// relative to the baseline median as 1 + shift/|median|. Used when a value
	// is <= 0 (counts that can be zero). When the baseline median is 0 the
	// reference is the mean absolute value of both sides, and 1 when that is
	// 0 too.
	LinearScale Scale = "linear"
)

// MetricResult is one metric of one candidate kernel against the baseline.
type MetricResult struct {
	Key      string    `json:"key"` // "scenario/metric"
	Scenario string    `json:"scenario"`
	Name     string    `json:"name"`
	Unit     string    `json:"unit"`
	Better   Direction `json:"better"`
	Quantile float64   `json:"quantile,omitempty"`
	Timing   bool      `json:"timing,omitempty"`
	// Threshold is the relative threshold used (0.05 = 5%).
	Threshold float64 `json:"threshold"`
	// Base and Cand are the per-boot values (OK boots, valid scenarios), in
	// plan order; BaseBoots and CandBoots the matching boot keys.
	Base       []float64 `json:"base"`
	Cand       []float64 `json:"cand"`
	BaseBoots  []string  `json:"base_boots"`
	CandBoots  []string  `json:"cand_boots"`
	BaseMedian float64   `json:"base_median"`
	CandMedian float64   `json:"cand_median"`
	// MinSamples is the fewest samples behind one boot's value (0: unknown).
	MinSamples int64 `json:"min_samples,omitempty"`
	Scale      Scale `json:"scale,omitempty"`
	// Ratio estimates candidate/baseline; [Lo, Hi] is its confidence
	// interval at the achieved level Level. Zero when not estimated.
	Ratio float64 `json:"ratio,omitempty"`
	Lo    float64 `json:"lo,omitempty"`
	Hi    float64 `json:"hi,omitempty"`
	Level float64 `json:"level,omitempty"`
	// Primary metrics form their own correction family (see KernelResult).
	Primary bool `json:"primary,omitempty"`
	// Complement is true when a fraction was judged by its complement 1-v,
	// the rarer side: Ratio, Lo and Hi are then of the complement.
	Complement bool `json:"complement,omitempty"`
	// Test names the test behind P: "welch-log" or "paired-log" (t-tests on
	// log values), "mann-whitney", "counts" (exact conditional test of
	// event rates, Dispersion the between-boot over-dispersion it allowed
	// for).
	Test       string  `json:"test,omitempty"`
	Dispersion float64 `json:"dispersion,omitempty"`
	// P is the two-sided p-value of "no change", Q its Benjamini-Hochberg
	// adjustment in the metric's family. Zero when not tested.
	P       float64 `json:"p,omitempty"`
	Q       float64 `json:"q,omitempty"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason,omitempty"`
}

// Change is the relative change of the estimate: +0.12 is 12% higher.
func (m *MetricResult) Change() float64 { return m.Ratio - 1 }

// Estimated reports whether Ratio, Lo and Hi hold an estimate.
func (m *MetricResult) Estimated() bool { return m.Scale != "" }

// series collects one kernel's per-boot values of one metric.
type series struct {
	meta       Metric // first seen: unit, direction, quantile, timing, threshold
	scenario   string
	vals       []float64
	boots      []string
	rounds     []int     // each value's boot index: boots of one round pair up
	samples    []float64 // each value's Samples (exposure of a count)
	nonFinite  int       // values dropped as NaN or infinite
	minSamples int64
	maxSamples int64
	invalid    int // boots whose scenario was not valid
}

type kernelData struct {
	name    string
	counts  BootCounts
	faults  map[Outcome]*Fault
	accel   map[string]bool
	metrics map[string]*series
	invalid map[string]int // scenario -> boots where it was invalid
	boots   []*Boot
}

// Compare judges every kernel of boots against baseline, metric by metric.
// Only OK boots and valid scenarios give values; a kernel whose boots
// panicked, hung or hit agent errors gets a Fault (a regression);
// infrastructure errors are only counted. Traced boots are left out.
func Compare(baseline string, boots []*Boot, opt CompareOptions) *Comparison {
	if opt.Alpha <= 0 || opt.Alpha >= 1 {
		opt.Alpha = 0.05
	}
	if opt.MinBoots < 2 {
		opt.MinBoots = 2
	}
	// A traced boot ran under the tracer: never a measurement.
	sorted := slices.DeleteFunc(slices.Clone(boots), func(b *Boot) bool { return b.Traced })
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })

	// Kernels in first-seen order; metric keys grouped by scenario, the
	// scenarios in the order the boots ran them (an invalid run counts, so
	// the order does not depend on which boot first measured a scenario),
	// and each scenario's metrics in the order it reports them.
	var order []string
	var scOrder []string
	scKeys := map[string][]string{}
	kd := map[string]*kernelData{}
	seenKey := map[string]bool{}
	for _, b := range sorted {
		k := kd[b.Kernel]
		if k == nil {
			k = &kernelData{name: b.Kernel, faults: map[Outcome]*Fault{}, accel: map[string]bool{},
				metrics: map[string]*series{}, invalid: map[string]int{}}
			kd[b.Kernel] = k
			order = append(order, b.Kernel)
		}
		k.counts.add(b.Outcome)
		k.boots = append(k.boots, b)
		if b.Outcome.KernelFault() {
			f := k.faults[b.Outcome]
			if f == nil {
				f = &Fault{Verdict: Regression, Outcome: b.Outcome, Reason: b.Reason, Decisive: DecisiveLines(b.ConsoleTail)}
				k.faults[b.Outcome] = f
			}
			f.Count++
			f.Boots = append(f.Boots, b.Key())
		}
		if b.Outcome != OK {
			continue
		}
		k.accel[b.Accel] = true
		for _, sc := range b.Scenarios {
			if _, ok := scKeys[sc.Name]; !ok {
				scKeys[sc.Name] = nil
				scOrder = append(scOrder, sc.Name)
			}
			if !sc.Valid {
				k.invalid[sc.Name]++
				continue
			}
			for _, m := range sc.Metrics {
				key := sc.Name + "/" + m.Name
				s := k.metrics[key]
				if s == nil {
					s = &series{meta: m, scenario: sc.Name, minSamples: -1}
					k.metrics[key] = s
				}
				if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
					s.nonFinite++
					continue
				}
				s.vals = append(s.vals, m.Value)
				s.boots = append(s.boots, b.Key())
				s.rounds = append(s.rounds, b.Index)
				s.samples = append(s.samples, float64(m.Samples))
				if m.Samples > 0 && (s.minSamples < 0 || m.Samples < s.minSamples) {
					s.minSamples = m.Samples
				}
				s.maxSamples = max(s.maxSamples, m.Samples)
				if !seenKey[key] {
					seenKey[key] = true
					scKeys[sc.Name] = append(scKeys[sc.Name], key)
				}
			}
		}
	}

	var keys []string
	for _, sc := range scOrder {
		keys = append(keys, scKeys[sc]...)
	}
	declared := map[string]bool{}
	for _, k := range kd {
		for _, s := range k.metrics {
			declared[s.scenario] = declared[s.scenario] || s.meta.Primary
		}
	}

	c := &Comparison{Schema: ComparisonSchema, Baseline: baseline, Alpha: opt.Alpha}
	base := kd[baseline]
	if base == nil {
		base = &kernelData{name: baseline, faults: map[Outcome]*Fault{}, accel: map[string]bool{},
			metrics: map[string]*series{}, invalid: map[string]int{}}
		c.Notes = append(c.Notes, fmt.Sprintf("baseline %s has no boots", baseline))
	}
	c.BaselineBoots = base.counts
	c.BaselineAccel = sortedKeys(base.accel)
	for _, f := range faultList(base) {
		c.Notes = append(c.Notes, fmt.Sprintf("baseline %s: %s", baseline, f))
	}
	for _, n := range oneOffs(base.boots) {
		c.Notes = append(c.Notes, fmt.Sprintf("baseline %s: %s", baseline, n))
	}
	if base.counts.InfraError > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("baseline %s: %d infrastructure errors (not counted)", baseline, base.counts.InfraError))
	}
	tcg := false
	for _, k := range kd {
		tcg = tcg || k.accel["tcg"]
	}
	if tcg {
		c.Notes = append(c.Notes, "timings measured under TCG are distorted (a 100 us sleep overshoots by milliseconds): trust counts and kernel state, not absolute latencies")
	}

	var baseKernel *Kernel
	for i := range opt.Kernels {
		if opt.Kernels[i].Name == baseline {
			baseKernel = &opt.Kernels[i]
		}
	}
	// Kernels in the matrix's order when it is known, else as they booted.
	rank := map[string]int{}
	for i, k := range opt.Kernels {
		rank[k.Name] = i + 1
	}
	slices.SortStableFunc(order, func(a, b string) int {
		if rank[a] == 0 || rank[b] == 0 {
			return 0
		}
		return rank[a] - rank[b]
	})
	for _, name := range order {
		if name == baseline {
			continue
		}
		kr := compareKernel(base, kd[name], keys, declared, opt)
		if baseKernel != nil {
			for i := range opt.Kernels {
				if opt.Kernels[i].Name == name {
					kr.Changes = WhatChanged(*baseKernel, opt.Kernels[i], firstFacts(sorted, baseline), firstFacts(sorted, name))
				}
			}
		}
		c.Kernels = append(c.Kernels, kr)
	}
	return c
}

func firstFacts(boots []*Boot, kernel string) map[string]string {
	for _, b := range boots {
		if b.Kernel == kernel && b.Outcome == OK {
			return b.Facts
		}
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func faultList(k *kernelData) []Fault {
	var fs []Fault
	for _, o := range []Outcome{KernelPanic, Hang, AgentError} {
		if f := k.faults[o]; f != nil {
			f.Of = k.counts.Judged()
			fs = append(fs, *f)
		}
	}
	return fs
}

// compareKernel judges cand against base. declared names the scenarios that
// mark their primary metrics themselves.
func compareKernel(base, cand *kernelData, keys []string, declared map[string]bool, opt CompareOptions) KernelResult {
	kr := KernelResult{Kernel: cand.name, Boots: cand.counts, Accel: sortedKeys(cand.accel), Faults: faultList(cand)}
	if cand.counts.InfraError > 0 {
		kr.Notes = append(kr.Notes, fmt.Sprintf("%d infrastructure errors (not counted)", cand.counts.InfraError))
	}
	kr.Notes = append(kr.Notes, oneOffs(cand.boots)...)
	mixed := ""
	if !slices.Equal(sortedKeys(base.accel), kr.Accel) && len(base.accel) > 0 && len(cand.accel) > 0 {
		mixed = fmt.Sprintf("baseline ran under %s, candidate under %s", strings.Join(sortedKeys(base.accel), "+"), strings.Join(kr.Accel, "+"))
	} else if bh, ok := opt.Hosts[base.name]; ok {
		if ch, ok := opt.Hosts[cand.name]; ok && !sameHost(bh, ch) {
			mixed = fmt.Sprintf("baseline ran on %s, candidate on %s", hostString(bh), hostString(ch))
		}
	}
	if mixed != "" {
		if opt.AllowMixedAccel {
			kr.Notes = append(kr.Notes, "TIMINGS COMPARED ACROSS MACHINES: "+mixed)
		} else {
			kr.Notes = append(kr.Notes, "timing metrics not compared: "+mixed)
		}
	}

	var tested []int            // indexes into kr.Metrics that carry a p-value
	dropped := map[string]int{} // NaN or infinite values left out, by key
	for _, key := range keys {
		bs, cs := base.metrics[key], cand.metrics[key]
		if bs == nil && cs == nil {
			continue
		}
		ref := bs
		if ref == nil {
			ref = cs
		}
		m := MetricResult{Key: key, Scenario: ref.scenario, Name: ref.meta.Name, Unit: ref.meta.Unit,
			Better: ref.meta.Better, Quantile: ref.meta.Quantile, Timing: ref.meta.Timing}
		m.Threshold = threshold(key, ref.meta, opt.Thresholds)
		m.Primary = ref.meta.Primary || !declared[ref.scenario] && defaultPrimary(ref.meta)
		m.MinSamples = -1
		for _, s := range []*series{bs, cs} {
			if s != nil && s.minSamples >= 0 && (m.MinSamples < 0 || s.minSamples < m.MinSamples) {
				m.MinSamples = s.minSamples
			}
		}
		m.MinSamples = max(m.MinSamples, 0)
		if bs != nil {
			m.Base, m.BaseBoots, m.BaseMedian = bs.vals, bs.boots, median(bs.vals)
		}
		if cs != nil {
			m.Cand, m.CandBoots, m.CandMedian = cs.vals, cs.boots, median(cs.vals)
		}
		switch {
		case len(m.Base) == 0 || len(m.Cand) == 0:
			side, k := "baseline", base
			if len(m.Base) > 0 {
				side, k = "candidate", cand
			}
			m.Verdict, m.Reason = NotComparable, fmt.Sprintf("no valid values on the %s side", side)
			if n := k.invalid[ref.scenario]; n > 0 {
				m.Reason += fmt.Sprintf(" (scenario invalid in %d boots)", n)
			}
			if s := k.metrics[key]; s != nil && s.nonFinite > 0 {
				m.Reason += fmt.Sprintf(" (%d NaN or infinite values)", s.nonFinite)
			}
		case m.Timing && mixed != "" && !opt.AllowMixedAccel:
			m.Verdict, m.Reason = NotComparable, mixed
		case m.Better == Info:
			m.Verdict = Informational
			estimate(&m, opt.Alpha)
		case m.Quantile >= 100 && unevenSamples(bs, cs):
			// A boot's max grows with its sample count: maxima of boots that
			// took very different numbers of samples differ for that alone.
			m.Verdict, m.Reason = NotComparable, fmt.Sprintf("a max compares only between boots with similar sample counts, these had %d to %d", min(bs.minSamples, cs.minSamples), max(bs.maxSamples, cs.maxSamples))
			estimate(&m, opt.Alpha)
		case underpowered(m.Quantile, m.MinSamples):
			need := int64(math.Ceil(100/(1-m.Quantile/100) - 1e-6)) // float noise: 100/0.001 is not exact
			m.Verdict, m.Reason = Underpowered, fmt.Sprintf("p%g needs %d samples per boot, fewest was %d", m.Quantile, need, m.MinSamples)
			estimate(&m, opt.Alpha)
		case len(m.Base) < opt.MinBoots || len(m.Cand) < opt.MinBoots:
			m.Verdict, m.Reason = Inconclusive, fmt.Sprintf("needs at least %d valid boots per kernel, has %d and %d", opt.MinBoots, len(m.Base), len(m.Cand))
			estimate(&m, opt.Alpha)
		default:
			if err := test(&m, bs, cs, opt.Alpha, opt.Paired); err != nil {
				m.Verdict, m.Reason = NotComparable, err.Error()
				break
			}
			tested = append(tested, len(kr.Metrics))
		}
		for _, s := range []*series{bs, cs} {
			if s != nil && s.nonFinite > 0 && len(m.Base) > 0 && len(m.Cand) > 0 {
				dropped[m.Key] += s.nonFinite
			}
		}
		kr.Metrics = append(kr.Metrics, m)
	}

	// One Benjamini-Hochberg family, weighted: the primary metrics share
	// PrimaryShare of alpha, the secondary ones the rest, so a change in
	// what the scenarios are about is found with few boots, and an A/A
	// comparison still flags any metric with chance at most alpha.
	var primary int
	for _, j := range tested {
		if kr.Metrics[j].Primary {
			primary++
		}
	}
	kr.Tests, kr.SecondaryTests = primary, len(tested)-primary
	share := PrimaryShare
	switch {
	case primary == 0:
		share = 0
	case primary == len(tested):
		share = 1
	}
	w := make([]float64, len(tested))
	for i, j := range tested {
		if kr.Metrics[j].Primary {
			w[i] = share * float64(len(tested)) / float64(primary)
		} else {
			w[i] = (1 - share) * float64(len(tested)) / float64(len(tested)-primary)
		}
	}
	kr.BootsNeeded = BootsNeeded(opt.Alpha*share, max(primary, 1))
	for i, q := range WeightedBH(pValues(kr.Metrics, tested), w) {
		m := &kr.Metrics[tested[i]]
		m.Q = q
		// The exact rank test's floor, in a family of len(tested)/w[i]
		// equally weighted metrics.
		family := int(math.Ceil(float64(len(tested))/w[i] - 1e-9))
		m.Verdict, m.Reason = judge(m, opt.Alpha, family, BootsNeeded(opt.Alpha, family))
	}
	for i := range kr.Metrics {
		if n := dropped[kr.Metrics[i].Key]; n > 0 {
			m := &kr.Metrics[i]
			m.Reason = strings.TrimPrefix(m.Reason+fmt.Sprintf("; %d NaN or infinite values left out", n), "; ")
		}
	}
	sort.SliceStable(kr.Metrics, func(i, j int) bool {
		return verdictRank[kr.Metrics[i].Verdict] < verdictRank[kr.Metrics[j].Verdict]
	})
	return kr
}

// underpowered: a tail quantile is judged only when at least 100 samples per
// boot lie beyond it (p99.9 needs 100k samples). A max (q 100) has no samples
// beyond it: it is the boot's worst case, one independent value per boot
// like any other per-boot statistic, so it is judged across boots as it is
// (see unevenSamples for its own condition).
func underpowered(q float64, samples int64) bool {
	return q > 50 && q < 100 && samples > 0 && float64(samples)*(1-q/100) < 100
}

// unevenSamples reports whether the boots of two series took sample counts
// more than a factor 2 apart (unknown counts are not uneven).
func unevenSamples(a, b *series) bool {
	lo, hi := min(a.minSamples, b.minSamples), max(a.maxSamples, b.maxSamples)
	return lo > 0 && hi > 2*lo
}

// estimate fills the shift estimate and its interval for a metric that is
// not tested, at the level of the tested ones.
func estimate(m *MetricResult, alpha float64) {
	estimateOf(m, m.Base, m.Cand, 1-2*alpha)
}

// estimateOf fills the Hodges-Lehmann shift of cand against base: of log
// values when all are > 0, else of the values relative to base's median.
func estimateOf(m *MetricResult, base, cand []float64, level float64) {
	if positive(base) && positive(cand) {
		s := HodgesLehmann(logs(base), logs(cand), level)
		m.Scale, m.Ratio, m.Lo, m.Hi, m.Level = LogScale, math.Exp(s.Estimate), math.Exp(s.Lo), math.Exp(s.Hi), s.Level
		return
	}
	ref := math.Abs(median(base))
	if ref == 0 || math.IsNaN(ref) {
		sum := 0.0
		for _, v := range slices.Concat(base, cand) {
			sum += math.Abs(v)
		}
		ref = sum / float64(len(base)+len(cand))
	}
	if ref == 0 || math.IsNaN(ref) || math.IsInf(ref, 0) {
		ref = 1
	}
	s := HodgesLehmann(base, cand, level)
	if math.IsNaN(s.Estimate) || math.IsInf(s.Estimate, 0) {
		return
	}
	m.Scale, m.Ratio, m.Lo, m.Hi, m.Level = LinearScale, 1+s.Estimate/ref, 1+s.Lo/ref, 1+s.Hi/ref, s.Level
}

func logs(v []float64) []float64 {
	l := make([]float64, len(v))
	for i, x := range v {
		l[i] = math.Log(x)
	}
	return l
}

// judge decides a tested metric's verdict from its corrected q and its
// interval (at 1-2*alpha, see decide.go); family is the size of its
// correction family.
func judge(m *MetricResult, alpha float64, family, needed int) (Verdict, string) {
	t := m.Threshold
	up, down := m.Lo > 1+t, m.Hi < 1-t // whole interval above / below the band
	inside := m.Lo >= 1-t && m.Hi <= 1+t
	bad, good := up, down
	if m.Better == HigherIsBetter {
		bad, good = down, up
	}
	if m.Complement { // less of the complement is more of the fraction
		bad, good = good, bad
	}
	sig := m.Q <= alpha
	switch {
	case m.Scale == CountScale && m.Ratio == 1 && m.Lo == 0 && math.IsInf(m.Hi, 1):
		return Inconclusive, "no events on either side: no rate to compare"
	case !sig && m.Test == "mann-whitney" && MinP(len(m.Base), len(m.Cand))*float64(family) > alpha:
		return Inconclusive, fmt.Sprintf("needs at least %d boots per kernel for significance after correction (has %d and %d)", needed, len(m.Base), len(m.Cand))
	case sig && bad:
		return Regression, ""
	case sig && good:
		return Improvement, ""
	case inside:
		if why := degenerate(m); why != "" {
			return Inconclusive, why + ": not evidence of no change"
		}
		return Equivalent, ""
	case bad || good:
		return Inconclusive, fmt.Sprintf("interval beyond the threshold but not significant after correction (q=%.3g): more boots", m.Q)
	default:
		return Inconclusive, fmt.Sprintf("CI straddles the threshold (±%g%%): more boots", t*100)
	}
}

// threshold picks a metric's relative threshold: the longest matching option
// pattern, else the metric's own, else the default for its kind.
func threshold(key string, m Metric, opts map[string]float64) float64 {
	best, bestLen := 0.0, -1
	for pat, t := range opts {
		ok, _ := path.Match(pat, key)
		if !ok && !strings.Contains(pat, "/") {
			ok, _ = path.Match(pat, m.Name)
		}
		if ok && (len(pat) > bestLen || len(pat) == bestLen && t > best) {
			best, bestLen = t, len(pat)
		}
	}
	if bestLen >= 0 && best > 0 {
		return best
	}
	if m.Threshold > 0 {
		return m.Threshold
	}
	return DefaultThreshold(m)
}

// DefaultThreshold is the relative threshold for a metric's kind: 5% for
// medians, means and rates, 15% for p99, 20% for p99.9 and max, 10% for
// everything else.
func DefaultThreshold(m Metric) float64 {
	n := m.Name
	has := func(suffix string) bool { return strings.HasSuffix(n, suffix) }
	switch {
	case m.Quantile >= 99.9 || has("p99.9") || has("p999") || has("max"):
		return 0.20
	case m.Quantile >= 99 || has("p99"):
		return 0.15
	case m.Quantile == 50 || has("p50") || has("median") || has("mean") || strings.HasSuffix(m.Unit, "/s"):
		return 0.05
	}
	return 0.10
}

func sameHost(a, b Host) bool {
	return a.CPUModel == b.CPUModel && a.QEMUVersion == b.QEMUVersion && a.Hostname == b.Hostname
}

func hostString(h Host) string {
	return fmt.Sprintf("%s (%s, QEMU %s)", h.Hostname, h.CPUModel, h.QEMUVersion)
}

// Failed reports whether any verdict of the comparison is in failOn
// (default: regression). Kernel faults are regressions.
func (c *Comparison) Failed(failOn []Verdict) bool {
	if len(failOn) == 0 {
		failOn = []Verdict{Regression}
	}
	for _, k := range c.Kernels {
		for _, f := range k.Faults {
			if slices.Contains(failOn, f.Verdict) {
				return true
			}
		}
		for _, m := range k.Metrics {
			if slices.Contains(failOn, m.Verdict) {
				return true
			}
		}
	}
	return false
}

// BaselineOf names the kernel k is compared against.
func (c *Comparison) BaselineOf(k *KernelResult) string {
	if k.Against != "" {
		return k.Against
	}
	return c.Baseline
}

// Join puts comparisons with one candidate each, and different baselines,
// into one: each candidate keeps its own baseline in Against. label names
// the baselines as a whole (kvet diff: the old run). Notes are kept once.
func Join(label string, cs []*Comparison) *Comparison {
	out := &Comparison{Schema: ComparisonSchema, Baseline: label, Alpha: 0.05}
	seen := map[string]bool{}
	note := func(n string) {
		if !seen[n] {
			seen[n] = true
			out.Notes = append(out.Notes, n)
		}
	}
	accel := map[string]bool{}
	for _, c := range cs {
		out.Alpha = c.Alpha
		for _, a := range c.BaselineAccel {
			accel[a] = true
		}
		out.BaselineBoots.Total += c.BaselineBoots.Total
		out.BaselineBoots.OK += c.BaselineBoots.OK
		out.BaselineBoots.KernelPanic += c.BaselineBoots.KernelPanic
		out.BaselineBoots.Hang += c.BaselineBoots.Hang
		out.BaselineBoots.AgentError += c.BaselineBoots.AgentError
		out.BaselineBoots.InfraError += c.BaselineBoots.InfraError
		for _, n := range c.Notes {
			note(n)
		}
		for _, k := range c.Kernels {
			k.Against = c.Baseline
			bb := c.BaselineBoots
			k.BaseBoots = &bb
			out.Kernels = append(out.Kernels, k)
		}
	}
	out.BaselineAccel = sortedKeys(accel)
	return out
}

// Counts tallies a kernel's metric verdicts.
func (k *KernelResult) Counts() map[Verdict]int {
	n := map[Verdict]int{}
	for _, m := range k.Metrics {
		n[m.Verdict]++
	}
	return n
}
