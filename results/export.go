package results

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"
)

// DecodeHistogram decodes a Histogram's HdrHistogram V2 base64 form.
func DecodeHistogram(h Histogram) (*hdrhistogram.Histogram, error) {
	d, err := hdrhistogram.Decode([]byte(h.Encoded))
	if err != nil {
		return nil, fmt.Errorf("histogram %s: %w", h.Name, err)
	}
	return d, nil
}

// WriteHistogramLog writes the histograms of one kernel's OK boots as an
// HdrHistogram interval log (readable by HistogramLogAnalyzer and
// hdrhistogram-go's log reader): one interval per boot and histogram, tagged
// "scenario.histogram" (with ".corrected" after a histogram corrected for
// coordinated omission whose name does not say so, so that it is not taken
// for the raw one of the same name), the interval's start being the boot's
// start relative to the kernel's first boot.
func WriteHistogramLog(w io.Writer, kernel string, boots []*Boot) error {
	var mine []*Boot
	for _, b := range boots {
		if b.Kernel == kernel && b.Outcome == OK {
			mine = append(mine, b)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].Seq < mine[j].Seq })
	lw := hdrhistogram.NewHistogramLogWriter(w)
	if err := lw.OutputLogFormatVersion(); err != nil {
		return err
	}
	if err := lw.OutputComment(fmt.Sprintf("[kvet kernel %s, %d boots]", kernel, len(mine))); err != nil {
		return err
	}
	if len(mine) > 0 {
		base := mine[0].Started.UnixMilli()
		lw.SetBaseTime(base)
		if err := lw.OutputStartTime(base); err != nil {
			return err
		}
		if err := lw.OutputBaseTime(base); err != nil {
			return err
		}
	}
	if err := lw.OutputLegend(); err != nil {
		return err
	}
	for _, b := range mine {
		for _, sc := range b.Scenarios {
			if !sc.Valid {
				continue
			}
			for _, hh := range sc.Histograms {
				h, err := DecodeHistogram(hh)
				if err != nil {
					return fmt.Errorf("boot %s: %w", b.Key(), err)
				}
				tag := sc.Name + "." + hh.Name
				if hh.Corrected && !strings.HasSuffix(tag, ".corrected") {
					tag += ".corrected"
				}
				h.SetTag(tagSafe(tag))
				start := b.Started.UnixMilli()
				h.SetStartTimeMs(start)
				h.SetEndTimeMs(start + max(sc.Duration.Milliseconds(), 1))
				if err := lw.OutputIntervalHistogram(h); err != nil {
					return fmt.Errorf("boot %s: %w", b.Key(), err)
				}
			}
		}
	}
	return nil
}

// tagSafe: interval log tags may not hold commas, spaces or line breaks.
func tagSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ',', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// WriteBenchmarks writes every OK boot's metrics (valid scenarios only) in
// the Go benchmark format, one line per boot and metric:
//
//	BenchmarkKvet/kernel=K/scenario=S/metric=M 1 VALUE UNIT
//
// so that benchstat compares kernels (benchstat -col /kernel FILE, or two
// files of one kernel each written with kernel set). kernel "" writes all
// kernels. Every duration is written in nanoseconds (see benchUnit), so
// benchstat puts all of them in one table instead of one per unit.
func WriteBenchmarks(w io.Writer, kernel string, boots []*Boot) error {
	sorted := make([]*Boot, 0, len(boots))
	for _, b := range boots {
		if b.Outcome == OK && (kernel == "" || b.Kernel == kernel) {
			sorted = append(sorted, b)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
	bw := benchfmt.NewWriter(w)
	res := &benchfmt.Result{Iters: 1, Config: []benchfmt.Config{
		{Key: "goos", Value: []byte("linux"), File: true},
		{Key: "goarch", Value: []byte("amd64"), File: true},
		{Key: "pkg", Value: []byte("github.com/kvet/kvet"), File: true},
	}}
	for _, b := range sorted {
		for _, sc := range b.Scenarios {
			if !sc.Valid {
				continue
			}
			for _, m := range sc.Metrics {
				res.Name = benchfmt.Name("Kvet/kernel=" + benchSafe(b.Kernel) + "/scenario=" + benchSafe(sc.Name) + "/metric=" + benchSafe(m.Name))
				res.Values = append(res.Values[:0], benchValue(m.Value, m.Unit))
				if err := bw.Write(res); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// benchValue is a metric's value as benchfmt holds it: tidied (seconds for
// a duration, as benchfmt's reader tidies "ns") with the value and unit
// written to the file in OrigValue and OrigUnit.
func benchValue(v float64, unit string) benchfmt.Value {
	ov, ou := benchUnit(v, unit)
	tv, tu := benchunit.Tidy(ov, ou)
	return benchfmt.Value{Value: tv, Unit: tu, OrigValue: ov, OrigUnit: ou}
}

// durationUnits scale a duration to nanoseconds.
var durationUnits = map[string]float64{"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "sec": 1e9}

// benchUnit writes a value in one unit per kind: a duration ("us", "ms",
// "s", or a rate's numerator such as "ms/op") in nanoseconds ("ns",
// "ns/op"), which benchfmt's reader tidies to seconds for every one of them
// alike. Other units only lose their spaces; "" becomes "value".
func benchUnit(v float64, unit string) (float64, string) {
	num, den, per := strings.Cut(unit, "/")
	if f, ok := durationUnits[num]; ok {
		if f != 1 {
			// Round off the float error of the scaling (0.1 us is 100 ns,
			// not 100.00000000000001).
			v, _ = strconv.ParseFloat(strconv.FormatFloat(v*f, 'g', 15, 64), 64)
		}
		unit = "ns"
		if per {
			unit += "/" + den
		}
	}
	return v, unitSafe(unit)
}

// benchSafe keeps a name part from splitting the benchmark name: no
// slashes, equals signs or spaces.
func benchSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '=', ' ', '\t':
			return '_'
		}
		return r
	}, s)
}

func unitSafe(u string) string {
	if u == "" {
		return "value"
	}
	return strings.ReplaceAll(u, " ", "_")
}
