package scenarios

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kvet/kvet/results"
)

// Output formats the exec scenario reads besides Go benchmark lines: the
// reference tools' own reports, so a tool runs unchanged next to kvet's
// scenarios in the same boot.
const (
	FormatBench      = "bench"      // Go benchmark format
	FormatCyclictest = "cyclictest" // cyclictest --json (with -h for percentiles)
	FormatSockperf   = "sockperf"   // sockperf ping-pong or under-load summary
	FormatKV         = "kv"         // lines "name value unit"
)

var execFormats = []string{FormatBench, FormatCyclictest, FormatSockperf, FormatKV}

// latencyMetrics summarises a latency distribution given as sorted
// (value ns, count) buckets into the metrics measure.Summarize gives kvet's
// own histograms (PREFIX.min, .p50, .p99, .p99.9, .max, .mean), so a
// reference and a scenario compare name for name.
func latencyMetrics(prefix string, vals []float64, counts []int64, min, max, mean float64) []results.Metric {
	var n int64
	for _, c := range counts {
		n += c
	}
	q := func(p float64) float64 {
		// The smallest value with at least p% of the samples at or below it,
		// as HdrHistogram's ValueAtQuantile.
		want := int64(math.Ceil(p / 100 * float64(n)))
		if want < 1 {
			want = 1
		}
		var seen int64
		for i, c := range counts {
			seen += c
			if seen >= want {
				return vals[i]
			}
		}
		return max
	}
	m := func(name string, v, quantile float64) results.Metric {
		return results.Metric{Name: prefix + "." + name, Unit: "ns", Better: results.LowerIsBetter,
			Value: v, Samples: n, Quantile: quantile, Timing: true}
	}
	return []results.Metric{
		m("min", min, 0), m("p50", q(50), 50), m("p99", q(99), 99), m("p99.9", q(99.9), 99.9),
		m("max", max, 100), m("mean", mean, 0),
	}
}

// ParseCyclictest reads cyclictest's --json report (anything before the
// first '{' is skipped, so a script may print it after other lines). With
// -h the per-thread histograms (1 us buckets) give the percentiles, merged
// over threads as kvet's timer merges its threads; samples beyond the
// histogram's range count at the maximum.
func ParseCyclictest(out []byte) ([]results.Metric, error) {
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return nil, fmt.Errorf("cyclictest: no JSON report in the output (run it with --json=FILE and print FILE)")
	}
	var rep struct {
		Threads map[string]struct {
			Histogram map[string]int64 `json:"histogram"`
			Cycles    int64            `json:"cycles"`
			Min       float64          `json:"min"`
			Max       float64          `json:"max"`
			Avg       float64          `json:"avg"`
		} `json:"thread"`
	}
	dec := json.NewDecoder(bytes.NewReader(out[i:]))
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("cyclictest: JSON report: %w", err)
	}
	if len(rep.Threads) == 0 {
		return nil, fmt.Errorf("cyclictest: the JSON report has no threads")
	}
	hist := map[float64]int64{}
	var cycles, inHist int64
	minUS, maxUS, sum := math.Inf(1), 0.0, 0.0
	for name, t := range rep.Threads {
		for k, c := range t.Histogram {
			us, err := strconv.ParseFloat(k, 64)
			if err != nil {
				return nil, fmt.Errorf("cyclictest: thread %s: histogram bucket %q: %w", name, k, err)
			}
			hist[us] += c
			inHist += c
		}
		cycles += t.Cycles
		minUS, maxUS = math.Min(minUS, t.Min), math.Max(maxUS, t.Max)
		sum += t.Avg * float64(t.Cycles)
	}
	if cycles == 0 {
		return nil, fmt.Errorf("cyclictest: no cycles in the report")
	}
	if inHist == 0 {
		return nil, fmt.Errorf("cyclictest: the report has no histogram (run it with -h US, e.g. -h 20000)")
	}
	keys := make([]float64, 0, len(hist)+1)
	for k := range hist {
		keys = append(keys, k)
	}
	sort.Float64s(keys)
	vals := make([]float64, 0, len(keys)+1)
	counts := make([]int64, 0, len(keys)+1)
	for _, k := range keys {
		vals, counts = append(vals, k*1e3), append(counts, hist[k])
	}
	if over := cycles - inHist; over > 0 {
		vals, counts = append(vals, maxUS*1e3), append(counts, over)
	}
	ms := latencyMetrics("latency", vals, counts, minUS*1e3, maxUS*1e3, sum/float64(cycles)*1e3)
	return append(ms, results.Metric{Name: "samples", Unit: "count", Better: results.Info, Value: float64(cycles)}), nil
}

var (
	sockperfPct = regexp.MustCompile(`--->\s+percentile\s+([0-9.]+)\s*=\s*([0-9.]+)`)
	sockperfObs = regexp.MustCompile(`--->\s+<(MAX|MIN)>\s+observation\s*=\s*([0-9.]+)`)
	sockperfAvg = regexp.MustCompile(`avg-(?:latency|rtt)=([0-9.]+)`)
	sockperfN   = regexp.MustCompile(`Total\s+([0-9]+)\s+observations`)
	sockperfRTT = regexp.MustCompile(`Summary: Round trip is`)
	ansiEscape  = regexp.MustCompile("\x1b\\[[0-9;]*m")
)

// ParseSockperf reads sockperf's ping-pong summary (usec) into the same
// metrics as kvet's latency histograms, in ns. Without --full-rtt sockperf
// reports half the round trip; the metrics are then named latency.*, with
// it rtt.*, so a one-way figure is never compared with a round trip.
func ParseSockperf(out []byte) ([]results.Metric, error) {
	s := ansiEscape.ReplaceAllString(string(out), "")
	pct := map[float64]float64{}
	var min, max, avg float64
	var n int64
	for _, m := range sockperfPct.FindAllStringSubmatch(s, -1) {
		p, _ := strconv.ParseFloat(m[1], 64)
		v, _ := strconv.ParseFloat(m[2], 64)
		pct[p] = v * 1e3
	}
	for _, m := range sockperfObs.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "MAX" {
			max = v * 1e3
		} else {
			min = v * 1e3
		}
	}
	if m := sockperfAvg.FindStringSubmatch(s); m != nil {
		avg, _ = strconv.ParseFloat(m[1], 64)
		avg *= 1e3
	}
	if m := sockperfN.FindStringSubmatch(s); m != nil {
		n, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, p := range []float64{50, 99, 99.9} {
		if _, ok := pct[p]; !ok {
			return nil, fmt.Errorf("sockperf: no \"percentile %.3f\" line in the summary", p)
		}
	}
	prefix := "latency"
	if sockperfRTT.MatchString(s) {
		prefix = "rtt"
	}
	m := func(name string, v, q float64) results.Metric {
		return results.Metric{Name: prefix + "." + name, Unit: "ns", Better: results.LowerIsBetter,
			Value: v, Samples: n, Quantile: q, Timing: true}
	}
	return []results.Metric{
		m("min", min, 0), m("p50", pct[50], 50), m("p99", pct[99], 99), m("p99.9", pct[99.9], 99.9),
		m("max", max, 100), m("mean", avg, 0),
	}, nil
}

// ParseKV reads lines of the form "name value unit"; other lines are
// skipped and returned as notes (the first few). A name repeated takes the
// median of its values, the count of values as its samples.
func ParseKV(rd io.Reader, directions map[string]string) ([]results.Metric, []string, error) {
	values := map[string][]float64{}
	units := map[string]string{}
	var order, notes []string
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var v float64
		var err error
		if len(f) == 3 {
			v, err = strconv.ParseFloat(f[1], 64)
		}
		if len(f) != 3 || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			if len(notes) < 5 {
				notes = append(notes, fmt.Sprintf("line %d: not \"name value unit\": %.80q", line, sc.Text()))
			}
			continue
		}
		key := f[0]
		if u, ok := units[key]; ok && u != f[2] {
			return nil, notes, fmt.Errorf("line %d: %s in %s, earlier in %s", line, key, f[2], u)
		}
		if _, ok := values[key]; !ok {
			order = append(order, key)
			units[key] = f[2]
		}
		values[key] = append(values[key], v)
	}
	if err := sc.Err(); err != nil {
		return nil, notes, fmt.Errorf("read output: %w", err)
	}
	var out []results.Metric
	for _, key := range order {
		unit := units[key]
		out = append(out, results.Metric{Name: key, Unit: unit, Better: execDirection(unit, directions),
			Value: tcpMedian(values[key]), Samples: int64(len(values[key])), Timing: execTiming(unit)})
	}
	return out, notes, nil
}
