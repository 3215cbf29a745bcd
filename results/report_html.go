package results

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
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
	// Answer is the answer's lines, first on the page.
	Answer  []string
	Kernels []htmlKernel
	Dists   []htmlPlot
	Values  []htmlPlot
}

var htmlTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
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
{{range .C.Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Kernels}}
<h2 id="k-{{.Kernel}}">{{.Kernel}}: <span class="{{.Verdict}}">{{.Verdict}}</span></h2>
<p>{{.Summary}}. {{.Boots}}.</p>
{{range .Faults}}<p class="fault"><b>{{.}}</b>: {{.Reason}} ({{range $i, $b := .Boots}}{{if $i}}, {{end}}{{$b}}{{end}})</p>{{end}}
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
<p>Percentile distributions of each kernel's boots merged (for the picture only: the verdicts compare per-boot values). Both axes are logarithmic.</p>
{{range .Dists}}<h3>{{.Title}}</h3>
{{.SVG}}
{{end}}{{end}}
{{if .Values}}<h2 id="values">Per-boot values</h2>
<p>One dot per boot; the bar is the median, the shaded band the candidate's confidence interval implied by the shift estimate.</p>
{{range .Values}}<h3>{{.Title}}</h3>
{{.SVG}}
{{end}}{{end}}
</body>
</html>
`))

// WriteHTML renders a self-contained HTML report: the verdict tables, a
// percentile-distribution plot per latency histogram (each kernel's boots
// merged), and the per-boot values of every metric with the candidate's
// confidence interval. run may be nil; boots supply the histograms.
func WriteHTML(w io.Writer, c *Comparison, run *Run, boots []*Boot) error {
	p := htmlPage{Run: run, C: c, BaselineBoot: bootsString(c.BaselineBoots), Answer: Answer(c)}
	for i := range c.Kernels {
		k := &c.Kernels[i]
		hk := htmlKernel{KernelResult: k, Verdict: k.Overall(), Summary: summaryLine(k), Boots: bootsString(k.Boots), Changes: k.Changes}
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

// distPlots merges each kernel's histograms per scenario and name, in the
// order they first appear.
func distPlots(kernels []string, colors map[string]string, boots []*Boot) ([]htmlPlot, error) {
	type key struct{ scen, name string }
	var order []key
	unit := map[key]string{}
	merged := map[key]map[string]*hdrhistogram.Histogram{}
	for _, b := range boots {
		if b.Outcome != OK {
			continue
		}
		for _, sc := range b.Scenarios {
			if !sc.Valid {
				continue
			}
			for _, hh := range sc.Histograms {
				k := key{sc.Name, hh.Name}
				if merged[k] == nil {
					merged[k] = map[string]*hdrhistogram.Histogram{}
					order = append(order, k)
					unit[k] = hh.Unit
				}
				h, err := DecodeHistogram(hh)
				if err != nil {
					return nil, fmt.Errorf("boot %s: %w", b.Key(), err)
				}
				if m := merged[k][b.Kernel]; m == nil {
					merged[k][b.Kernel] = h
				} else {
					m.Merge(h)
				}
			}
		}
	}
	var plots []htmlPlot
	for _, k := range order {
		var series []distSeries
		for _, kn := range kernels {
			if h := merged[k][kn]; h != nil && h.TotalCount() > 0 {
				series = append(series, distSeries{kn, colors[kn], h})
			}
		}
		plots = append(plots, htmlPlot{Title: k.scen + "/" + k.name, SVG: template.HTML(percentileSVG(series, unit[k]))})
	}
	return plots, nil
}

type distSeries struct {
	kernel, color string
	h             *hdrhistogram.Histogram
}

// percentileSVG draws latency against percentile: x is log10(1/(1-q)), so
// 90%, 99%, 99.9% are evenly spaced; y is logarithmic.
func percentileSVG(series []distSeries, unit string) string {
	const W, H, ml, mr, mt, mb = 780.0, 300.0, 70.0, 210.0, 10.0, 30.0
	xmax := 1.0
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		xmax = math.Max(xmax, math.Min(6, math.Floor(math.Log10(float64(s.h.TotalCount())))))
		ymin = math.Min(ymin, math.Max(1, float64(s.h.Min())))
		ymax = math.Max(ymax, math.Max(1, float64(s.h.Max())))
	}
	if len(series) == 0 {
		return ""
	}
	ly0, ly1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if ly1 <= ly0 {
		ly1 = ly0 + 1
	}
	px := func(x float64) float64 { return ml + x/xmax*(W-ml-mr) }
	py := func(v float64) float64 { return H - mb - (math.Log10(math.Max(v, 1))-ly0)/(ly1-ly0)*(H-mt-mb) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%g" height="%g" viewBox="0 0 %g %g" role="img">`, W, H, W, H)
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, ml, mt, W-ml-mr, H-mt-mb)
	for x := 0.0; x <= xmax; x++ {
		label := fmt.Sprintf("%.*f%%", max(0, int(x)-2), 100*(1-math.Pow(10, -x)))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/><text x="%.1f" y="%g" text-anchor="middle">%s</text>`,
			px(x), mt, px(x), H-mb, px(x), H-mb+14, label)
	}
	for e := ly0; e <= ly1; e++ {
		v := math.Pow(10, e)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`,
			ml, py(v), W-mr, py(v), ml-4, py(v)+4, html.EscapeString(FormatValue(v, unit)))
	}
	for i, s := range series {
		var pts []string
		for x := 0.0; x <= xmax+1e-9; x += 0.05 {
			q := 100 * (1 - math.Pow(10, -x))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(x), py(float64(s.h.ValueAtQuantile(q)))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`,
			s.color, strings.Join(pts, " "), html.EscapeString(s.kernel))
		fmt.Fprintf(&b, `<rect x="%g" y="%d" width="12" height="3" fill="%s"/><text x="%g" y="%d">%s (%d samples)</text>`,
			W-mr+8, 20+16*i, s.color, W-mr+24, 24+16*i, html.EscapeString(s.kernel), s.h.TotalCount())
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

func valuesSVG(c *Comparison, colors map[string]string, ms []*MetricResult) string {
	const W, rowH, ml, mr = 720.0, 26.0, 170.0, 230.0
	type row struct {
		name   string
		vals   []float64
		m      *MetricResult // nil for the baseline row
		color  string
		lo, hi float64
	}
	base := c.Baseline
	for i := range c.Kernels {
		if containsMetric(&c.Kernels[i], ms[0]) {
			base = c.BaselineOf(&c.Kernels[i])
		}
	}
	rows := []row{{name: base, vals: ms[0].Base, color: colors[base]}}
	for _, m := range ms {
		r := row{name: "", vals: m.Cand, m: m}
		for i := range c.Kernels {
			if containsMetric(&c.Kernels[i], m) {
				r.name, r.color = c.Kernels[i].Kernel, colors[c.Kernels[i].Kernel]
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
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		for _, v := range r.vals {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if r.lo != r.hi {
			lo, hi = math.Min(lo, r.lo), math.Max(hi, r.hi)
		}
	}
	if math.IsInf(lo, 0) {
		return ""
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	H := rowH*float64(len(rows)) + 24
	px := func(v float64) float64 { return ml + (v-lo)/(hi-lo)*(W-ml-mr) }
	unit := ms[0].Unit
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%g" height="%g" viewBox="0 0 %g %g" role="img">`, W, H, W, H)
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#999"/>`, ml, H-20, W-mr, H-20)
	fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text><text x="%g" y="%g" text-anchor="end">%s</text>`,
		ml, H-6, html.EscapeString(FormatValue(lo, unit)), W-mr, H-6, html.EscapeString(FormatValue(hi, unit)))
	for i, r := range rows {
		y := rowH*float64(i) + rowH/2 + 2
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`, ml-6, y+4, html.EscapeString(r.name))
		if r.lo != r.hi {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%g" fill="%s" fill-opacity="0.15"><title>CI</title></rect>`,
				px(r.lo), y-9, math.Max(1, px(r.hi)-px(r.lo)), 18.0, r.color)
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
