package scenarios

import (
	"fmt"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// Helpers shared by the scheduler scenarios (wakeup, pipe, hackbench,
// rt-hog, fairness).

// schedInvalidate marks r invalid, keeping the first reason.
func schedInvalidate(r *results.Scenario, format string, args ...any) {
	if r.Valid {
		r.Valid = false
		r.Invalid = fmt.Sprintf(format, args...)
	}
}

// schedCheckGC invalidates r when a GC cycle ran inside the window.
func schedCheckGC(r *results.Scenario, w *measure.Window) {
	if n := w.GCs(); n > 0 {
		schedInvalidate(r, "%d GC cycle(s) inside the measurement window", n)
	}
}

// schedMerge merges per-thread histograms into a new one.
func schedMerge(hs []*hdrhistogram.Histogram) *hdrhistogram.Histogram {
	out := measure.NewHist()
	for _, h := range hs {
		out.Merge(h)
	}
	return out
}

// schedHist summarises h under prefix and attaches its encoded form.
func schedHist(r *results.Scenario, prefix string, h *hdrhistogram.Histogram) error {
	r.Metrics = append(r.Metrics, measure.Summarize(prefix, h)...)
	e, err := measure.Encode(prefix, "ns", false, h)
	if err != nil {
		return err
	}
	r.Histograms = append(r.Histograms, e)
	return nil
}

// schedMetric is a shorthand for a metric that is not a sample statistic.
func schedMetric(name, unit string, better results.Direction, v float64, timing bool) results.Metric {
	return results.Metric{Name: name, Unit: unit, Better: better, Value: v, Timing: timing}
}

// schedPerSecond is n events over elapsed ns as a rate.
func schedPerSecond(n int64, elapsed int64) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(n) * 1e9 / float64(elapsed)
}

// schedLog writes to the agent log when the environment has one.
func schedLog(env Env, format string, args ...any) {
	if env.Logf != nil {
		env.Logf(format, args...)
	}
}

// schedNoise records a window's self-noise (kvet's non-measuring threads)
// as PREFIX.selfnoise.* and invalidates r past the bound.
func schedNoise(r *results.Scenario, prefix string, nz measure.Noise) {
	if why := nz.Invalid(); why != "" && prefix != "" {
		schedInvalidate(r, "%s: %s", prefix, why)
	} else if why != "" {
		schedInvalidate(r, "%s", why)
	}
	r.Metrics = append(r.Metrics, nz.Metrics(prefix)...)
}
