package results

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The HTML report is one self-contained file: inline CSS and SVG drawn here,
// no scripts, fonts or images from elsewhere, so it opens from a CI artifact
// store or an air-gapped machine.

// palette colours the kernels: the Okabe-Ito colours, told apart with any
// colour vision, in an order that gives no kernel the red or green that would
// read as bad or good (vermillion comes sixth, yellow, faint on white, last).
var palette = []string{"#0072B2", "#E69F00", "#56B4E9", "#CC79A7", "#009E73", "#D55E00", "#000000", "#F0E442"}

// kernelColors gives each kernel its palette colour, in the reports' order,
// the same in every plot.
func kernelColors(kernels []string) map[string]string {
	colors := map[string]string{}
	for i, k := range kernels {
		colors[k] = palette[i%len(palette)]
	}
	return colors
}

type htmlKernel struct {
	*KernelResult
	Verdict Verdict
	Summary string
	Boots   string
	Changes []Change
	Rows    []htmlRow
	Traces  []htmlTrace
}

// htmlTrace links a scenario's trace from a kernel's traced boot; Href is
// relative to the run directory, "" when there is no file.
type htmlTrace struct {
	Scenario, Href, Note string
}

type htmlRow struct {
	*MetricResult
	Base, Cand, Change, CI, P, Q string
}

type htmlPlot struct {
	Title string
	SVG   template.HTML
}

type htmlPage struct {
	Run          *Run
	C            *Comparison
	BaselineBoot string
	// BaselineTraces are the baseline's traces (it has no section).
	BaselineTraces []htmlTrace
	// Answer is the answer's lines, first on the page.
	Answer  []string
	Kernels []htmlKernel
	Dists   []htmlPlot
	Values  []htmlPlot
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"traceList": func(kernel string, t []htmlTrace) htmlTraces { return htmlTraces{kernel, t} },
}).Parse(`{{define "traces"}}<p class="traces">{{.Kernel}}'s traced boot (its scenarios ran under the kernel's event tracer and measured nothing; open a trace in Perfetto's UI, ui.perfetto.dev): {{range $i, $t := .Traces}}{{if $i}}, {{end}}{{if $t.Href}}<a href="{{$t.Href}}">{{$t.Scenario}}</a>{{else}}{{$t.Scenario}}{{end}}{{if $t.Note}} ({{$t.Note}}){{end}}{{end}}.</p>{{end}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kvet report{{if .Run}} {{.Run.ID}}{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right;white-space:nowrap}
td.l:last-child{white-space:normal}
td.l,th.l{text-align:left}
.regression{background:#fdd}.improvement{background:#dfd}.inconclusive,.underpowered,.not-comparable{background:#ffd}
.equivalent{color:#555}.info{color:#777}
.note{border-left:4px solid #e90;padding:.3em .6em;background:#fff8e8}
.fault{border-left:4px solid #c00;padding:.3em .6em;background:#fee}
svg{display:block;margin:.5em 0 1.5em}
pre.answer{background:#f6f6f6;padding:.6em;white-space:pre-wrap;font-size:13px}
table.changes td{overflow-wrap:anywhere;max-width:40em}
svg text{font-size:11px;font-family:system-ui,sans-serif}
</style>
</head>
<body>
<h1>kvet: kernels against {{.C.Baseline}}</h1>
<pre class="answer">{{range .Answer}}{{.}}
{{end}}</pre>
<nav><b>Contents:</b> {{range .Kernels}}<a href="#k-{{.Kernel}}">{{.Kernel}}</a> ({{.Verdict}}) &middot; {{end}}{{if .Dists}}<a href="#dists">latency distributions</a> &middot; {{end}}{{if .Values}}<a href="#values">per-boot values</a>{{end}}</nav>
{{with .Run}}<p>Run <code>{{.ID}}</code>, created {{.Created.UTC.Format "2006-01-02 15:04 UTC"}}, profile {{.Profile}}, accel {{.Accel}}, {{.Boots}} boots per kernel, seed {{.Seed}}.<br>
Host {{.Host.Hostname}}: {{.Host.CPUModel}}, {{.Host.CPUs}} CPUs, kernel {{.Host.Kernel}}, QEMU {{.Host.QEMUVersion}}, kvet {{.Host.KvetVersion}}, {{.Host.GoVersion}}.</p>{{end}}
<p>Baseline <b>{{.C.Baseline}}</b>: {{.BaselineBoot}}. A metric is a regression when the test on per-boot values is significant after Benjamini-Hochberg (q &le; {{.C.Alpha}}; weighted so that the primary metrics share 80% of it) and the whole confidence interval of the shift lies beyond the metric's threshold. The shift is the estimated ratio (of geometric means, of event rates for counts), not the ratio of the medians; each interval is at its achieved level.</p>
{{with .BaselineTraces}}{{template "traces" (traceList $.C.Baseline .)}}
{{end}}{{range .C.Notes}}<p class="note">{{.}}</p>{{end}}
{{range $k := .Kernels}}
<h2 id="k-{{.Kernel}}">{{.Kernel}}: <span class="{{.Verdict}}">{{.Verdict}}</span></h2>
<p>{{.Summary}}. {{.Boots}}.</p>
{{with .Traces}}{{template "traces" (traceList $k.Kernel .)}}
{{end}}{{range .Faults}}<p class="fault"><b>{{.}}</b>: {{.Reason}} ({{range $i, $b := .Boots}}{{if $i}}, {{end}}{{$b}}{{end}})</p>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .Changes}}<h3>What changed</h3>
<table class="changes"><tr><th class="l">kind</th><th class="l">key</th><th class="l">baseline</th><th class="l">candidate</th></tr>
{{range .Changes}}<tr><td class="l">{{.Kind}}</td><td class="l"><code>{{.Key}}</code></td><td class="l">{{.Base}}</td><td class="l">{{.Cand}}</td></tr>
{{end}}</table>{{end}}
<h3>Metrics</h3>
<table><tr><th class="l">metric</th><th>baseline</th><th>candidate</th><th>n</th><th>shift</th><th>CI</th><th>p</th><th>q</th><th class="l">verdict</th></tr>
{{range .Rows}}<tr class="{{.Verdict}}"><td class="l"><code>{{.Key}}</code></td><td>{{.Base}}</td><td>{{.Cand}}</td><td>{{len .MetricResult.Base}}/{{len .MetricResult.Cand}}</td><td>{{.Change}}</td><td>{{.CI}}</td><td>{{.P}}</td><td>{{.Q}}</td><td class="l">{{.Verdict}}{{if .Reason}}: {{.Reason}}{{end}}</td></tr>
{{end}}</table>
{{end}}
{{if .Dists}}<h2 id="dists">Latency distributions</h2>
<p>Percentile distributions: the thick line is each kernel's boots merged, the thin lines each boot's own (for the picture only: the verdicts compare per-boot values). Raw histograms and histograms corrected for coordinated omission are drawn apart, never merged. Both axes are logarithmic.</p>
{{range .Dists}}<h3>{{.Title}}</h3>
{{.SVG}}
{{end}}{{end}}
{{if .Values}}<h2 id="values">Per-boot values</h2>
<p>One dot per boot; the bar is the median, the shaded band the candidate's confidence interval implied by the shift estimate. A metric with no negative value is drawn from 0 up at most.</p>
{{range .Values}}<h3>{{.Title}}</h3>
{{.SVG}}
{{end}}{{end}}
</body>
</html>
`))

type htmlTraces struct {
	Kernel string
	Traces []htmlTrace
}

// WriteHTML renders a self-contained HTML report: the verdict tables, a
// percentile-distribution plot per latency histogram (each kernel's boots
// merged), and the per-boot values of every metric with the candidate's
// confidence interval. run may be nil; boots supply the histograms, and
// traced boots among them their traces' links (relative to the run
// directory, where the report is written).
func WriteHTML(w io.Writer, c *Comparison, run *Run, boots []*Boot) error {
	traces := htmlTracesOf(boots)
	p := htmlPage{Run: run, C: c, BaselineBoot: bootsString(c.BaselineBoots), Answer: Answer(c), BaselineTraces: traces[c.Baseline]}
	for i := range c.Kernels {
		k := &c.Kernels[i]
		hk := htmlKernel{KernelResult: k, Verdict: k.Overall(), Summary: summaryLine(k), Boots: bootsString(k.Boots), Changes: k.Changes, Traces: traces[k.Kernel]}
		for j := range k.Metrics {
			m := &k.Metrics[j]
			hk.Rows = append(hk.Rows, htmlRow{MetricResult: m, Base: medianString(m.Base, m.BaseMedian, m.Unit), Cand: medianString(m.Cand, m.CandMedian, m.Unit),
				Change: changeString(m), CI: ciString(m), P: pString(m.P), Q: pString(m.Q)})
		}
		p.Kernels = append(p.Kernels, hk)
	}
	kernels := []string{c.Baseline}
	for i := range c.Kernels {
		if b := c.BaselineOf(&c.Kernels[i]); !slices.Contains(kernels, b) {
			kernels = append(kernels, b)
		}
		kernels = append(kernels, c.Kernels[i].Kernel)
	}
	colors := kernelColors(kernels)
	dists, err := distPlots(kernels, colors, boots)
	if err != nil {
		return err
	}
	p.Dists = dists
	p.Values = valuePlots(c, colors)
	return htmlTmpl.Execute(w, p)
}

// distKey names a distribution plot: raw and corrected histograms of one
// name are distinct plots, never merged.
type distKey struct {
	scen, name string
	corrected  bool
}

func (k distKey) title() string {
	if k.corrected {
		return k.scen + "/" + k.name + " (corrected for coordinated omission)"
	}
	return k.scen + "/" + k.name + " (raw)"
}

// distPlots draws a plot per scenario, histogram name and kind (raw or
// corrected), in the order they first appear: each kernel's boots merged,
// and each boot's own.
func distPlots(kernels []string, colors map[string]string, boots []*Boot) ([]htmlPlot, error) {
	var order []distKey
	unit := map[distKey]string{}
	perBoot := map[distKey]map[string][]*hdrhistogram.Histogram{}
	for _, b := range boots {
		if b.Outcome != OK || b.Traced {
			continue
		}
		for _, sc := range b.Scenarios {
			if !sc.Valid {
				continue
			}
			for _, hh := range sc.Histograms {
				k := distKey{sc.Name, hh.Name, hh.Corrected}
				if perBoot[k] == nil {
					perBoot[k] = map[string][]*hdrhistogram.Histogram{}
					order = append(order, k)
					unit[k] = hh.Unit
				}
				h, err := DecodeHistogram(hh)
				if err != nil {
					return nil, fmt.Errorf("boot %s: %w", b.Key(), err)
				}
				if h.TotalCount() > 0 {
					perBoot[k][b.Kernel] = append(perBoot[k][b.Kernel], h)
				}
			}
		}
	}
	var plots []htmlPlot
	for _, k := range order {
		var series []distSeries
		for _, kn := range kernels {
			hs := perBoot[k][kn]
			if len(hs) == 0 {
				continue
			}
			merged := hdrhistogram.Import(hs[0].Export())
			for _, h := range hs[1:] {
				merged.Merge(h)
			}
			series = append(series, distSeries{kn, colors[kn], merged, hs})
		}
		svg := percentileSVG(series, unit[k], k.corrected)
		plots = append(plots, htmlPlot{Title: k.title(), SVG: template.HTML(svg)})
	}
	return plots, nil
}

type distSeries struct {
	kernel, color string
	merged        *hdrhistogram.Histogram
	boots         []*hdrhistogram.Histogram
}

// axisUnit is the unit an axis shows values of unit in, for values up to
// about v: nanoseconds become us, ms or s; other units stay as they are.
// Divide a value by scale to show it in name.
func axisUnit(unit string, v float64) (scale float64, name string) {
	if unit != "ns" {
		return 1, unit
	}
	switch a := math.Abs(v); {
	case a >= 1e9:
		return 1e9, "s"
	case a >= 1e6:
		return 1e6, "ms"
	case a >= 1e3:
		return 1e3, "us"
	}
	return 1, "ns"
}

// axisTitle is an axis's title with its unit: "latency (us)".
func axisTitle(what, unit string) string {
	if unit == "" || unit == "ratio" {
		return what
	}
	return what + " (" + unit + ")"
}

// tickLabel prints a tick's value, already in the axis's unit.
func tickLabel(v float64) string {
	if v == 0 {
		return "0" // not "-0"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// percentileXMax is how far right (in log10(1/(1-q))) a histogram of n
// values is drawn: to the percentile its values resolve, at most 99.9999%.
func percentileXMax(n int64) float64 {
	return math.Max(1, math.Min(6, math.Floor(math.Log10(float64(n)))))
}

// percentileSVG draws latency against percentile: x is log10(1/(1-q)), so
// 90%, 99%, 99.9% are evenly spaced; y is logarithmic. Each kernel's
// merged histogram is a thick line, each of its boots' a thin translucent
// one in the same colour, drawn to the percentile the boot resolves.
func percentileSVG(series []distSeries, unit string, corrected bool) string {
	const W, H, ml, mr, mt, mb = 840.0, 310.0, 80.0, 270.0, 10.0, 44.0
	if len(series) == 0 {
		return ""
	}
	xmax := 1.0
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		xmax = math.Max(xmax, percentileXMax(s.merged.TotalCount()))
		ymin = math.Min(ymin, math.Max(1, float64(s.merged.Min())))
		ymax = math.Max(ymax, math.Max(1, float64(s.merged.Max())))
	}
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if ly1 <= ly0 {
		ly1 = ly0 + 1
	}
	px := func(x float64) float64 { return ml + x/xmax*(W-ml-mr) }
	py := func(v float64) float64 { return H - mb - (math.Log10(math.Max(v, 1))-ly0)/(ly1-ly0)*(H-mt-mb) }
	line := func(h *hdrhistogram.Histogram, xto, step float64) string {
		var pts []string
		for x := 0.0; x <= xto+1e-9; x += step {
			q := 100 * (1 - math.Pow(10, -x))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(float64(h.ValueAtQuantile(q)))))
		}
		return strings.Join(pts, " ")
	}
	kind := "raw"
	if corrected {
		kind = "corrected"
	}
	scale, yunit := axisUnit(unit, math.Pow(10, ly0))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="dist" data-histogram="%s" width="%g" height="%g" viewBox="0 0 %g %g" role="img">`, kind, W, H, W, H)
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, ml, mt, W-ml-mr, H-mt-mb)
	for x := 0.0; x <= xmax; x++ {
		label := fmt.Sprintf("%.*f%%", max(0, int(x)-2), 100*(1-math.Pow(10, -x)))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/><text class="tick" x="%.1f" y="%g" text-anchor="middle">%s</text>`,
			px(x), mt, px(x), H-mb, px(x), H-mb+14, label)
	}
	for e := ly0; e <= ly1; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/><text class="tick" x="%g" y="%.1f" text-anchor="end">%s</text>`,
			ml, py(v), W-mr, py(v), ml-4, py(v)+4, tickLabel(v/scale))
	}
	what := "latency"
	if corrected {
		what = "latency, corrected"
	}
	fmt.Fprintf(&b, `<text class="axis-title" x="%g" y="%g" text-anchor="middle">percentile</text>`, (ml+W-mr)/2, H-6)
	fmt.Fprintf(&b, `<text class="axis-title" transform="translate(14 %g) rotate(-90)" text-anchor="middle">%s</text>`,
		(mt+H-mb)/2, html.EscapeString(axisTitle(what, yunit)))
	for _, s := range series {
		for _, h := range s.boots {
			fmt.Fprintf(&b, `<polyline class="boot" fill="none" stroke="%s" stroke-width="1" stroke-opacity="0.45" points="%s"/>`,
				s.color, line(h, math.Min(xmax, percentileXMax(h.TotalCount())), 0.1))
		}
	}
	for i, s := range series {
		fmt.Fprintf(&b, `<polyline class="merged" fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`,
			s.color, line(s.merged, xmax, 0.05), html.EscapeString(s.kernel))
		fmt.Fprintf(&b, `<rect x="%g" y="%d" width="12" height="3" fill="%s"/><text x="%g" y="%d">%s (%d boots, %d samples)</text>`,
			W-mr+8, 20+16*i, s.color, W-mr+24, 24+16*i, html.EscapeString(s.kernel), len(s.boots), s.merged.TotalCount())
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// valuePlots draws, per metric, the per-boot values of the baseline and of
// each candidate on one axis.
func valuePlots(c *Comparison, colors map[string]string) []htmlPlot {
	var order []string
	byKey := map[string][]*MetricResult{}
	for i := range c.Kernels {
		for j := range c.Kernels[i].Metrics {
			m := &c.Kernels[i].Metrics[j]
			if byKey[m.Key] == nil {
				order = append(order, m.Key)
			}
			byKey[m.Key] = append(byKey[m.Key], m)
		}
	}
	var plots []htmlPlot
	for _, key := range order {
		ms := byKey[key]
		plots = append(plots, htmlPlot{Title: key, SVG: template.HTML(valuesSVG(c, colors, ms))})
	}
	return plots
}

// valueRow is one kernel's row of a value plot.
type valueRow struct {
	name   string
	vals   []float64
	m      *MetricResult // nil for the baseline row
	color  string
	lo, hi float64 // the confidence band, when lo != hi
}

// valueAxis is the value axis's range for rows: every value and band with
// a margin, from 0 up at most when no value is negative (a band that
// reaches below 0 is cut at 0 then: a count or a latency is never negative).
func valueAxis(rows []valueRow) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	nonNegative := true
	for _, r := range rows {
		for _, v := range r.vals {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			nonNegative = nonNegative && v >= 0
		}
	}
	for _, r := range rows {
		if r.lo != r.hi {
			lo, hi = math.Min(lo, r.lo), math.Max(hi, r.hi)
		}
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return 0, 0, false
	}
	if nonNegative {
		lo = math.Max(lo, 0)
	}
	if hi == lo {
		d := math.Max(1, math.Abs(lo)*0.1)
		lo, hi = lo-d, hi+d
	} else {
		pad := (hi - lo) * 0.05
		lo, hi = lo-pad, hi+pad
	}
	if nonNegative {
		lo = math.Max(lo, 0)
	}
	return lo, hi, true
}

// niceTicks are the round values (1, 2 or 5 times a power of ten) from lo
// to hi, about n of them.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) {
		return nil
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, f := range []float64{2, 5, 10} {
		if step >= raw {
			break
		}
		step = f * mag
	}
	var ticks []float64
	for i := math.Ceil(lo / step); i*step <= hi*(1+1e-12); i++ {
		ticks = append(ticks, i*step)
	}
	return ticks
}

func valuesSVG(c *Comparison, colors map[string]string, ms []*MetricResult) string {
	const W, rowH, ml, mr, mt, mb = 880.0, 26.0, 170.0, 330.0, 16.0, 46.0
	base := c.Baseline
	for i := range c.Kernels {
		if containsMetric(&c.Kernels[i], ms[0]) {
			base = c.BaselineOf(&c.Kernels[i])
		}
	}
	rows := []valueRow{{name: base, vals: ms[0].Base, color: colors[base]}}
	for _, m := range ms {
		r := valueRow{name: "", vals: m.Cand, m: m}
		for i := range c.Kernels {
			if containsMetric(&c.Kernels[i], m) {
				r.name = c.Kernels[i].Kernel
				r.color = colors[r.name]
			}
		}
		if m.Estimated() && m.BaseMedian != 0 {
			if m.Scale == LogScale {
				r.lo, r.hi = m.BaseMedian*m.Lo, m.BaseMedian*m.Hi
			} else {
				a := math.Abs(m.BaseMedian)
				r.lo, r.hi = m.BaseMedian+(m.Lo-1)*a, m.BaseMedian+(m.Hi-1)*a
			}
		}
		rows = append(rows, r)
	}
	lo, hi, ok := valueAxis(rows)
	if !ok {
		return ""
	}
	H := mt + rowH*float64(len(rows)) + mb
	axisY := mt + rowH*float64(len(rows)) + 4
	px := func(v float64) float64 { return ml + (v-lo)/(hi-lo)*(W-ml-mr) }
	unit := ms[0].Unit
	scale, xunit := axisUnit(unit, math.Max(math.Abs(lo), math.Abs(hi)))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="values" data-metric="%s" data-axis="%g %g" width="%g" height="%g" viewBox="0 0 %g %g" role="img">`,
		html.EscapeString(ms[0].Key), lo, hi, W, H, W, H)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#999"/>`, ml, axisY, W-mr, axisY)
	for _, t := range niceTicks(lo, hi, 5) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/><line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#999"/><text class="tick" x="%.1f" y="%g" text-anchor="middle">%s</text>`,
			px(t), mt, px(t), axisY, px(t), axisY, px(t), axisY+4, px(t), axisY+16, tickLabel(t/scale))
	}
	fmt.Fprintf(&b, `<text class="axis-title" x="%g" y="%g" text-anchor="middle">%s</text>`, (ml+W-mr)/2, H-6,
		html.EscapeString(axisTitle(ms[0].Name, xunit)))
	fmt.Fprintf(&b, `<text class="axis-title" x="%g" y="%g" text-anchor="end">kernel</text>`, ml-6, mt-4)
	for i, r := range rows {
		y := mt + rowH*float64(i) + rowH/2
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, ml-6, y+4, html.EscapeString(r.name))
		if r.lo != r.hi {
			blo, bhi := math.Max(r.lo, lo), math.Min(r.hi, hi)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%g" fill="%s" fill-opacity="0.15"><title>CI</title></rect>`,
				px(blo), y-9, math.Max(1, px(bhi)-px(blo)), 18.0, r.color)
		}
		for _, v := range r.vals {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" fill-opacity="0.7"><title>%s</title></circle>`,
				px(v), y, r.color, html.EscapeString(FormatValue(v, unit)))
		}
		if len(r.vals) > 0 {
			med := median(r.vals)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="2"/>`, px(med), y-8, px(med), y+8)
		}
		if r.m != nil {
			label := string(r.m.Verdict)
			if r.m.Estimated() {
				label = fmt.Sprintf("%s %s %s", changeString(r.m), ciString(r.m), r.m.Verdict)
			}
			fmt.Fprintf(&b, `<text x="%g" y="%.1f" class="%s">%s</text>`, W-mr+8, y+4, r.m.Verdict, html.EscapeString(label))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func containsMetric(k *KernelResult, m *MetricResult) bool {
	for i := range k.Metrics {
		if &k.Metrics[i] == m {
			return true
		}
	}
	return false
}

// htmlTracesOf gathers each kernel's traces from its traced boots: the
// trace files as links, and what went wrong as notes.
func htmlTracesOf(boots []*Boot) map[string][]htmlTrace {
	out := map[string][]htmlTrace{}
	for _, b := range boots {
		if !b.Traced {
			continue
		}
		if b.Outcome != OK && len(b.Traces) == 0 {
			out[b.Kernel] = append(out[b.Kernel], htmlTrace{Scenario: "no trace", Note: fmt.Sprintf("the boot ended in %s: %s", b.Outcome, b.Reason)})
			continue
		}
		for _, t := range b.Traces {
			h := htmlTrace{Scenario: t.Scenario, Href: filepath.ToSlash(t.File)}
			var notes []string
			if t.Events > 0 {
				notes = append(notes, fmt.Sprintf("%d events", t.Events))
			}
			if t.Truncated {
				notes = append(notes, "cut at the size cap")
			}
			if len(t.Missing) > 0 {
				notes = append(notes, "lacks "+strings.Join(t.Missing, ", "))
			}
			if t.Error != "" {
				notes = append(notes, t.Error)
			}
			h.Note = strings.Join(notes, "; ")
			out[b.Kernel] = append(out[b.Kernel], h)
		}
	}
	return out
}
