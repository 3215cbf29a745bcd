package results

import (
	"fmt"
	"io"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
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
// "scenario.histogram", the interval's start being the boot's start relative
// to the kernel's first boot.
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
				h.SetTag(tagSafe(sc.Name + "." + hh.Name))
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
// kernels.
func WriteBenchmarks(w io.Writer, kernel string, boots []*Boot) error {
	sorted := make([]*Boot, 0, len(boots))
	for _, b := range boots {
		if b.Outcome == OK && (kernel == "" || b.Kernel == kernel) {
			sorted = append(sorted, b)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Seq < sorted[j].Seq })
	var sb strings.Builder
	sb.WriteString("goos: linux\ngoarch: amd64\npkg: github.com/kvet/kvet\n")
	for _, b := range sorted {
		for _, sc := range b.Scenarios {
			if !sc.Valid {
				continue
			}
			for _, m := range sc.Metrics {
				fmt.Fprintf(&sb, "BenchmarkKvet/kernel=%s/scenario=%s/metric=%s 1 %v %s\n",
					benchSafe(b.Kernel), benchSafe(sc.Name), benchSafe(m.Name), m.Value, unitSafe(m.Unit))
			}
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
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
