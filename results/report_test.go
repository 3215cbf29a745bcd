package results

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/perf/benchfmt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is a small run: a baseline, a candidate that changed (slower timer
// tail, faster wakeups, Nagle stalls appear) and a candidate that panics in
// one boot. Values come from a seeded generator, so the output is stable.
func fixture(t testing.TB) (*Run, []*Boot) {
	t.Helper()
	r := rand.New(rand.NewPCG(42, 7))
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	run := &Run{Schema: SchemaVersion, ID: "20250301-120000-fixture", Created: start, Accel: "kvm", Baseline: "6.1", Boots: 8, Profile: "full", Seed: 1,
		Host: Host{Hostname: "bench1", CPUModel: "AMD EPYC 7B13", CPUs: 2, Kernel: "6.1.0-54-amd64", QEMUVersion: "7.2.19", KvetVersion: "v0.1.0", GoVersion: "go1.26.8"},
		Kernels: []Kernel{
			{Name: "6.1", Release: "6.1.0-54-cloud-amd64", Config: map[string]string{"CONFIG_HZ": "250", "CONFIG_PREEMPT_VOLUNTARY": "y"}},
			{Name: "6.12", Release: "6.12.117+deb12-cloud-amd64", Config: map[string]string{"CONFIG_HZ": "250", "CONFIG_PREEMPT_VOLUNTARY": "y", "CONFIG_PREEMPT_DYNAMIC": "y"}},
			{Name: "6.12-rt", Release: "6.12.117+deb12-rt-amd64", Config: map[string]string{"CONFIG_HZ": "1000", "CONFIG_PREEMPT_RT": "y"}},
		}}
	type kspec struct {
		name             string
		timer, wake, nag float64 // scale of timer latencies, wakeup rate; nagle stalls
	}
	specs := []kspec{{"6.1", 1, 1, 0}, {"6.12", 1.4, 1.25, 12}, {"6.12-rt", 0.5, 1.01, 0}}
	var boots []*Boot
	seq := 0
	for i := 0; i < run.Boots; i++ {
		for _, ks := range specs {
			b := &Boot{Kernel: ks.name, Index: i, Seq: seq, Accel: "kvm", Outcome: OK, Started: start.Add(time.Duration(seq) * 10 * time.Second),
				Release: ks.name, Facts: map[string]string{"clocksource": "tsc", "sched.base_slice_ns": "3000000"}}
			if ks.name == "6.1" {
				b.Facts["sched.base_slice_ns"] = ""
				b.Facts["sched.min_granularity_ns"] = "3000000"
			}
			seq++
			if ks.name == "6.12-rt" && i == 5 {
				b.Outcome, b.Reason, b.ConsoleTail = KernelPanic, "Kernel panic - not syncing: hung_task: blocked tasks", "..."
				boots = append(boots, b)
				continue
			}
			h := hdrhistogram.New(1, 10_000_000_000, 3)
			for j := 0; j < 20000; j++ {
				h.RecordValue(int64(ks.timer * 50_000 * math.Exp(0.3*r.NormFloat64()+0.02*float64(i%3))))
			}
			enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			lat := func(name string, q float64) Metric {
				return Metric{Name: "fifo-1ms." + name, Unit: "ns", Better: LowerIsBetter, Timing: true, Samples: h.TotalCount(), Quantile: q,
					Value: float64(h.ValueAtQuantile(q))}
			}
			timer := Scenario{Name: "timer", Valid: true, Duration: 2 * time.Second,
				Metrics: []Metric{lat("p50", 50), lat("p99", 99), lat("p99.9", 99.9),
					{Name: "fifo-1ms.max", Unit: "ns", Better: LowerIsBetter, Timing: true, Samples: h.TotalCount(), Value: float64(h.Max())}},
				Histograms: []Histogram{{Name: "fifo-1ms", Unit: "ns", Encoded: string(enc)}}}
			wake := Scenario{Name: "wakeup", Valid: true, Duration: time.Second,
				Metrics: []Metric{{Name: "requests", Unit: "ops/s", Better: HigherIsBetter, Timing: true, Value: math.Round(ks.wake * 21000 * math.Exp(0.02*r.NormFloat64()))}}}
			nagle := Scenario{Name: "nagle", Valid: true, Duration: time.Second,
				Metrics: []Metric{{Name: "stalls", Unit: "count", Better: LowerIsBetter, Value: ks.nag + float64(r.IntN(3))},
					{Name: "cwnd", Unit: "segments", Better: Info, Value: 10}}}
			if ks.name == "6.12" && i == 2 {
				nagle.Valid, nagle.Invalid, nagle.Metrics = false, "GC cycle in the window", nil
			}
			b.Scenarios = []Scenario{timer, wake, nagle}
			boots = append(boots, b)
		}
	}
	return run, boots
}

func fixtureComparison(t testing.TB) (*Run, []*Boot, *Comparison) {
	run, boots := fixture(t)
	c := Compare(run.Baseline, boots, CompareOptions{Kernels: run.Kernels, Thresholds: map[string]float64{"nagle/stalls": 0.25}})
	return run, boots, c
}

// golden compares got with testdata/name.golden; on a mismatch it writes
// testdata/name.got for a diff. -update rewrites the golden file.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	gotPath := filepath.Join("testdata", name+".got")
	if !bytes.Equal(got, want) {
		os.WriteFile(gotPath, got, 0o644)
		t.Errorf("%s differs from %s; wrote %s (diff them, or go test -update)", name, path, gotPath)
		return
	}
	os.Remove(gotPath)
}

func TestRenderersGolden(t *testing.T) {
	run, boots, c := fixtureComparison(t)
	tests := []struct {
		name   string
		render func(*bytes.Buffer) error
	}{
		{"text", func(b *bytes.Buffer) error { return WriteText(b, c, run, false) }},
		{"text-color", func(b *bytes.Buffer) error { return WriteText(b, c, run, true) }},
		{"markdown", func(b *bytes.Buffer) error { return WriteMarkdown(b, c, run) }},
		{"json", func(b *bytes.Buffer) error { return WriteJSON(b, c) }},
		{"junit", func(b *bytes.Buffer) error { return WriteJUnit(b, c, nil) }},
		{"html", func(b *bytes.Buffer) error { return WriteHTML(b, c, run, boots) }},
		{"bench", func(b *bytes.Buffer) error { return WriteBenchmarks(b, "", boots) }},
		{"hlog", func(b *bytes.Buffer) error { return WriteHistogramLog(b, "6.12", boots) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b); err != nil {
				t.Fatalf("render: %v", err)
			}
			golden(t, tt.name, b.Bytes())
		})
	}
}

// The fixture's verdicts are what a reader of the reports expects.
func TestFixtureVerdicts(t *testing.T) {
	_, _, c := fixtureComparison(t)
	want := map[string]map[string]Verdict{
		"6.12": {"timer/fifo-1ms.p50": Regression, "timer/fifo-1ms.p99": Regression, "wakeup/requests": Improvement,
			"nagle/stalls": Regression, "nagle/cwnd": Informational, "timer/fifo-1ms.p99.9": Underpowered},
		"6.12-rt": {"timer/fifo-1ms.p50": Improvement, "wakeup/requests": Equivalent, "nagle/stalls": Inconclusive},
	}
	for _, k := range c.Kernels {
		for key, v := range want[k.Kernel] {
			if m := find(t, k, key); m.Verdict != v {
				t.Errorf("%s %s = %s (%q, ratio %.3f [%.3f, %.3f] q %.3g), want %s", k.Kernel, key, m.Verdict, m.Reason, m.Ratio, m.Lo, m.Hi, m.Q, v)
			}
		}
	}
	rt := c.Kernels[1]
	if len(rt.Faults) != 1 || rt.Faults[0].String() != "kernel-panic in 1 of 8 boots" {
		t.Errorf("6.12-rt faults = %v, want kernel-panic in 1 of 8 boots", rt.Faults)
	}
	if len(rt.Changes) == 0 || rt.Changes[0].Kind != "release" {
		t.Errorf("6.12-rt changes = %v, want the release first", rt.Changes)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	_, _, c := fixtureComparison(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, c); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "{\n  \"answer\": [\n    \""+Answer(c)[0]) {
		t.Errorf("report.json does not open with the answer:\n%.200s", b.String())
	}
	var back Comparison
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if back.Schema != ComparisonSchema || len(back.Kernels) != 2 || back.Failed(nil) != c.Failed(nil) {
		t.Errorf("round trip = schema %q, %d kernels, failed %v; want %q, 2, %v", back.Schema, len(back.Kernels), back.Failed(nil), ComparisonSchema, c.Failed(nil))
	}
}

func TestJUnitCounts(t *testing.T) {
	_, boots, c := fixtureComparison(t)
	for i, b := range boots {
		b.Wall = time.Duration(i+1) * 1500 * time.Millisecond
	}
	var b bytes.Buffer
	if err := WriteJUnit(&b, c, boots); err != nil {
		t.Fatal(err)
	}
	var s junitSuites
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatalf("xml.Unmarshal: %v", err)
	}
	for i, suite := range s.Suites {
		k := c.Kernels[i]
		n := k.Counts()
		fails := n[Regression]
		if len(k.Faults) > 0 {
			fails++
		}
		tests := len(k.Metrics) + 1 - n[Informational]
		var wall time.Duration
		for _, b := range boots {
			if b.Kernel == k.Kernel {
				wall += b.Wall
			}
		}
		if suite.Time != seconds(wall) || wall == 0 || suite.Cases[0].Time != suite.Time {
			t.Errorf("junit suite %s: time %s, boots case %s; want the boots' wall %s", suite.Name, suite.Time, suite.Cases[0].Time, seconds(wall))
		}
		for _, tc := range suite.Cases {
			if strings.Count(tc.Classname, ".") != 1 {
				t.Errorf("junit class %q: a kernel's dots would split it into packages", tc.Classname)
			}
		}
		if !strings.HasPrefix(suite.Output, k.Kernel+" vs ") {
			t.Errorf("junit suite %s: system-out %q, want the kernel's answer first", suite.Name, suite.Output)
		}
		if n[Informational] == 0 && i == 0 {
			t.Errorf("fixture has no info metric: the test cannot see them left out")
		}
		if suite.Name != k.Kernel || suite.Tests != tests || suite.Failures != fails || suite.Skipped != n[Inconclusive]+n[Underpowered]+n[NotComparable] {
			t.Errorf("junit suite %d = %s %d tests %d failures %d skipped, want %s %d %d %d", i, suite.Name, suite.Tests, suite.Failures, suite.Skipped,
				k.Kernel, tests, fails, n[Inconclusive]+n[Underpowered]+n[NotComparable])
		}
	}
}

// benchstat's reader must accept the benchmark lines.
func TestBenchmarksParse(t *testing.T) {
	_, boots := fixture(t)
	var b bytes.Buffer
	if err := WriteBenchmarks(&b, "6.12", boots); err != nil {
		t.Fatal(err)
	}
	rd := benchfmt.NewReader(&b, "6.12.txt")
	n := 0
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		case *benchfmt.Result:
			n++
			if len(rec.Values) != 1 {
				t.Errorf("benchfmt result %s has %d values, want 1", rec.Name, len(rec.Values))
			}
		}
	}
	// 8 boots, 1 invalid nagle scenario: 8*(5 timer+wakeup) + 7*2 nagle.
	if want := 8*5 + 7*2; n != want {
		t.Errorf("WriteBenchmarks wrote %d results, want %d", n, want)
	}
}

// Durations in any unit come out in one unit, so benchstat shows them in
// one table: 12.5 us and 3 ms are both nanoseconds on the line and seconds
// once benchfmt's reader has tidied them.
func TestBenchmarksOneDurationUnit(t *testing.T) {
	b := &Boot{Kernel: "k", Outcome: OK, Scenarios: []Scenario{{Name: "s", Valid: true, Metrics: []Metric{
		{Name: "rto", Unit: "us", Value: 12.5}, {Name: "stall", Unit: "ms", Value: 3}, {Name: "op", Unit: "ms/op", Value: 0.1},
		{Name: "p99", Unit: "ns", Value: 250}, {Name: "rate", Unit: "ops/s", Value: 7}, {Name: "size", Unit: "bytes", Value: 64}}}}}
	var out bytes.Buffer
	if err := WriteBenchmarks(&out, "", []*Boot{b}); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		line, unit string
		value      float64
	}{
		"rto":   {"12500 ns", "sec", 12.5e-6},
		"stall": {"3e+06 ns", "sec", 3e-3},
		"op":    {"100000 ns/op", "sec/op", 1e-4},
		"p99":   {"250 ns", "sec", 250e-9},
		"rate":  {"7 ops/s", "ops/s", 7},
		"size":  {"64 bytes", "bytes", 64},
	}
	for name, w := range want {
		if !strings.Contains(out.String(), "metric="+name+" 1 "+w.line+"\n") {
			t.Errorf("bench.txt lacks metric=%s 1 %s:\n%s", name, w.line, out.String())
		}
	}
	rd := benchfmt.NewReader(bytes.NewReader(out.Bytes()), "bench.txt")
	n := 0
	for rd.Scan() {
		rec, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			t.Errorf("benchfmt: %v", rd.Result())
			continue
		}
		_, parts := rec.Name.Parts()
		name := strings.TrimPrefix(string(parts[len(parts)-1]), "/metric=")
		w := want[name]
		n++
		if v := rec.Values[0]; v.Unit != w.unit || math.Abs(v.Value-w.value) > 1e-12*math.Abs(w.value) {
			t.Errorf("benchfmt reads %s as %v %s, want %v %s", name, v.Value, v.Unit, w.value, w.unit)
		}
	}
	if n != len(want) {
		t.Errorf("benchfmt read %d results, want %d", n, len(want))
	}
}

func TestHistogramLogReadBack(t *testing.T) {
	_, boots := fixture(t)
	var b bytes.Buffer
	if err := WriteHistogramLog(&b, "6.1", boots); err != nil {
		t.Fatal(err)
	}
	rd := hdrhistogram.NewHistogramLogReader(&b)
	n := 0
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("NextIntervalHistogram: %v", err)
		}
		if h == nil {
			break
		}
		n++
		if h.TotalCount() != 20000 || h.Tag() != "timer.fifo-1ms" {
			t.Errorf("interval %d: %d values tag %q, want 20000 and timer.fifo-1ms", n, h.TotalCount(), h.Tag())
		}
	}
	if n != 8 {
		t.Errorf("histogram log holds %d intervals, want 8", n)
	}
}

// A corrected histogram named as its raw one has a tag of its own in the
// interval log.
func TestHistogramLogCorrectedTag(t *testing.T) {
	_, boots := fixture(t)
	addCorrected(t, boots)
	var b bytes.Buffer
	if err := WriteHistogramLog(&b, "6.1", boots); err != nil {
		t.Fatal(err)
	}
	rd := hdrhistogram.NewHistogramLogReader(&b)
	tags := map[string]int64{}
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("NextIntervalHistogram: %v", err)
		}
		if h == nil {
			break
		}
		tags[h.Tag()] += h.TotalCount()
	}
	if want := map[string]int64{"timer.fifo-1ms": 8 * 20000, "timer.fifo-1ms.corrected": 8 * 21000}; !maps.Equal(tags, want) {
		t.Errorf("histogram log's tags and counts = %v, want %v", tags, want)
	}
}

// The HTML report is opened in a real headless Chromium: the plots must be in
// the DOM and the console quiet.
func TestHTMLInChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("KVET_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("chromium: %v (KVET_REQUIRE_INTEGRATION=1)", err)
		}
		t.Skipf("chromium not installed: %v", err)
	}
	run, boots, c := fixtureComparison(t)
	addCorrected(t, boots)
	boots = addTraced(boots)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := WriteHTML(&b, c, run, boots); err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, b.Bytes())
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("chromium: %v", err)
			}
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("chromium did not finish in 90s")
	}
	dom := stdout.String()
	checkHTMLPlots(t, c, dom)
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") {
			t.Errorf("chromium console: %s", l)
		}
	}
	if !strings.Contains(dom, "kernel-panic in 1 of 8 boots") {
		t.Errorf("chromium DOM lacks the kernel fault")
	}
	// The answer and the contents come before any section.
	answer, nav, section := strings.Index(dom, `<pre class="answer">`+Answer(c)[0]), strings.Index(dom, `<nav>`), strings.Index(dom, "<h2")
	if answer < 0 || nav < answer || section < nav || !strings.Contains(dom, `<a href="#k-6.12">`) {
		t.Errorf("chromium DOM: answer at %d, contents at %d, first section at %d; want the answer, then the contents with links, then the sections", answer, nav, section)
	}
	if !strings.Contains(dom, `<a href="traces/6.12.000.nagle.trace.gz">nagle</a>`) {
		t.Errorf("chromium DOM lacks the link to 6.12's nagle trace")
	}
}

// checkSelfContained: the page loads nothing from elsewhere; its links are
// to its own sections or to the traces beside it in the run directory.
func checkSelfContained(t *testing.T, page []byte) {
	t.Helper()
	if m := regexp.MustCompile(`(?i)src=|https?://|@import|url\(`).Find(page); m != nil {
		t.Errorf("WriteHTML refers outside the file: %q", m)
	}
	for _, m := range regexp.MustCompile(`(?i)href\s*=\s*("[^"]*"|'[^']*'|[^\s>]*)`).FindAllSubmatch(page, -1) {
		h := strings.Trim(string(m[1]), `"'`)
		trace := strings.HasPrefix(h, TracesDir+"/") && !strings.Contains(h, "..") && !strings.ContainsAny(h, ":\\")
		if !strings.HasPrefix(h, "#") && !trace {
			t.Errorf("WriteHTML links %q: want #section or %s/FILE", h, TracesDir)
		}
	}
}

// addTraced adds a traced boot of each kernel: the baseline's and 6.12's
// with traces, 6.12-rt's panicked. They carry the timer histograms of a
// measurement boot, ten times slower, which no plot may show.
func addTraced(boots []*Boot) []*Boot {
	for i, k := range []string{"6.1", "6.12", "6.12-rt"} {
		b := &Boot{Kernel: k, Seq: 100 + i, Accel: "kvm", Outcome: OK, Traced: true}
		if k == "6.12-rt" {
			b.Outcome, b.Reason = KernelPanic, "Kernel panic - not syncing: traced"
		} else {
			b.Traces = []TraceFile{
				{Scenario: "timer", File: TraceFileName(k, 0, "timer"), Events: 1200, Bytes: 150000},
				{Scenario: "nagle", File: TraceFileName(k, 0, "nagle"), Events: 900, Missing: []string{"tcp/tcp_probe"}, Truncated: true},
				{Scenario: "wakeup", Error: "tracefs: none of the events exists in this kernel"},
			}
			for _, mb := range boots {
				if mb.Kernel == k && mb.Outcome == OK {
					b.Scenarios = slices.Clone(mb.Scenarios)
					for j := range b.Scenarios {
						b.Scenarios[j].Metrics = slices.Clone(b.Scenarios[j].Metrics)
						for m := range b.Scenarios[j].Metrics {
							b.Scenarios[j].Metrics[m].Value *= 10
						}
					}
					break
				}
			}
		}
		boots = append(boots, b)
	}
	return boots
}

// TestHTMLTraceLinks: each kernel's traces are linked beside its section
// (the baseline's beside the baseline's line), with what a reader needs to
// know of each; the traced boots change no plot.
func TestHTMLTraceLinks(t *testing.T) {
	run, boots, c := fixtureComparison(t)
	var plain, b bytes.Buffer
	if err := WriteHTML(&plain, c, run, boots); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&b, c, run, addTraced(boots)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	checkSelfContained(t, b.Bytes())
	for _, want := range []string{
		`<a href="traces/6.1.000.timer.trace.gz">timer</a> (1200 events)`,
		`<a href="traces/6.12.000.nagle.trace.gz">nagle</a> (900 events; cut at the size cap; lacks tcp/tcp_probe)`,
		`wakeup (tracefs: none of the events exists in this kernel)`,
		`no trace (the boot ended in kernel-panic: Kernel panic - not syncing: traced)`,
		"ui.perfetto.dev",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// The baseline's before any section, 6.12's inside its own.
	base, first := strings.Index(page, "traces/6.1.000.timer"), strings.Index(page, `<h2 id="k-`)
	sec := strings.Index(page, `<h2 id="k-6.12">`)
	end := sec + 1 + strings.Index(page[sec+1:], "<h2")
	link := strings.Index(page, "traces/6.12.000.timer")
	if base < 0 || base > first || sec < 0 || link < sec || link > end {
		t.Errorf("links out of place: baseline's at %d (first section at %d), 6.12's at %d (its section from %d to %d)", base, first, link, sec, end)
	}
	svgs := func(s string) string { return strings.Join(svgRE.FindAllString(s, -1), "") }
	if svgs(page) != svgs(plain.String()) {
		t.Errorf("traced boots changed the plots")
	}
}

// addCorrected gives each boot's timer scenario a histogram corrected for
// coordinated omission under the raw one's name (as rt-hog names both
// "lateness"): the raw values and 1000 more of 2 ms each.
func addCorrected(t *testing.T, boots []*Boot) {
	t.Helper()
	for _, b := range boots {
		for i := range b.Scenarios {
			sc := &b.Scenarios[i]
			if sc.Name != "timer" {
				continue
			}
			h, err := DecodeHistogram(sc.Histograms[0])
			if err != nil {
				t.Fatal(err)
			}
			h.RecordValues(2_000_000, 1000)
			enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			sc.Histograms = append(sc.Histograms, Histogram{Name: sc.Histograms[0].Name, Unit: "ns", Corrected: true, Encoded: string(enc)})
		}
	}
}

var (
	svgRE       = regexp.MustCompile(`(?s)<svg\b[^>]*>.*?</svg>`)
	axisTitleRE = regexp.MustCompile(`<text class="axis-title"[^>]*>([^<]*)</text>`)
	tickRE      = regexp.MustCompile(`<text class="tick"[^>]*>([^<]*)</text>`)
	colorRE     = regexp.MustCompile(`(?i)(?:stroke|fill)="(#[0-9a-f]{6})"`)
	metricRE    = regexp.MustCompile(`data-metric="([^"]*)"`)
	axisRE      = regexp.MustCompile(`data-axis="(\S+) (\S+)"`)
)

// checkHTMLPlots checks the plots of the fixture's report.html (with
// addCorrected's histograms), as written or as Chromium's DOM: every plot
// has a title on both axes, the kernels' colours are the palette's and no
// red or green, a metric with no negative value shows no negative tick, and
// raw and corrected histograms are apart.
func checkHTMLPlots(t *testing.T, c *Comparison, doc string) {
	t.Helper()
	for _, bad := range []string{"#d62728", "#2ca02c", "#ff0000", "#00ff00", "#008000"} {
		for _, p := range palette {
			if strings.EqualFold(p, bad) {
				t.Errorf("palette holds %s: red or green reads as bad or good", p)
			}
		}
		if strings.Contains(strings.ToLower(doc), bad) {
			t.Errorf("report.html draws in %s: red or green reads as bad or good", bad)
		}
	}
	svgs := svgRE.FindAllString(doc, -1)
	var dists, values []string
	for _, svg := range svgs {
		switch {
		case strings.Contains(svg, `class="dist"`):
			dists = append(dists, svg)
		case strings.Contains(svg, `class="values"`):
			values = append(values, svg)
		}
	}
	// One distribution plot each for the raw and the corrected timer
	// histogram, one value plot per metric key (7).
	if len(svgs) != 9 || len(dists) != 2 || len(values) != 7 {
		t.Fatalf("report.html has %d svg, %d distribution and %d value plots, want 9, 2 and 7", len(svgs), len(dists), len(values))
	}
	for _, svg := range svgs {
		titles := axisTitleRE.FindAllStringSubmatch(svg, -1)
		if len(titles) != 2 {
			t.Errorf("plot has %d axis titles, want 2: %.200s", len(titles), svg)
			continue
		}
		if strings.Contains(svg, `class="dist"`) && (titles[0][1] != "percentile" || !strings.HasPrefix(titles[1][1], "latency") || !strings.HasSuffix(titles[1][1], " (us)")) {
			t.Errorf("distribution plot's axis titles are %q and %q, want percentile and latency (us)", titles[0][1], titles[1][1])
		}
		if m := metricRE.FindStringSubmatch(svg); m != nil {
			if unit := c.Kernels[0].Metrics[0].Unit; m[1] == c.Kernels[0].Metrics[0].Key && !strings.HasSuffix(titles[0][1], " (us)") {
				t.Errorf("value plot of %s (%s) has the axis title %q, want its unit", m[1], unit, titles[0][1])
			}
		}
		for _, col := range colorRE.FindAllStringSubmatch(svg, -1) {
			if !slices.ContainsFunc(append(palette, "#000000", "#999999"), func(p string) bool { return strings.EqualFold(p, col[1]) }) {
				t.Errorf("plot draws in %s, not a palette colour", col[1])
			}
		}
	}
	for _, svg := range values {
		key := metricRE.FindStringSubmatch(svg)[1]
		nonNegative := true
		for _, k := range c.Kernels {
			for _, m := range k.Metrics {
				if m.Key == key {
					for _, v := range append(slices.Clone(m.Base), m.Cand...) {
						nonNegative = nonNegative && v >= 0
					}
				}
			}
		}
		if a := axisRE.FindStringSubmatch(svg); a == nil {
			t.Errorf("value plot of %s does not give its axis's range", key)
		} else if lo, err := strconv.ParseFloat(a[1], 64); err != nil || (nonNegative && lo < 0) {
			t.Errorf("value plot of %s, a metric with no negative value, has its axis from %s", key, a[1])
		}
		ticks := tickRE.FindAllStringSubmatch(svg, -1)
		if len(ticks) < 2 {
			t.Errorf("value plot of %s has %d ticks, want 2 or more", key, len(ticks))
		}
		for _, tick := range ticks {
			if nonNegative && (strings.HasPrefix(tick[1], "-") || strings.HasPrefix(tick[1], "\u2212")) {
				t.Errorf("value plot of %s, a metric with no negative value, has the tick %s", key, tick[1])
			}
		}
	}
	raw, corrected := dists[0], dists[1]
	if !strings.Contains(raw, `data-histogram="raw"`) || !strings.Contains(corrected, `data-histogram="corrected"`) ||
		!strings.Contains(doc, "<h3>timer/fifo-1ms (raw)</h3>") || !strings.Contains(doc, "<h3>timer/fifo-1ms (corrected for coordinated omission)</h3>") {
		t.Errorf("report.html does not title the raw and the corrected distribution apart")
	}
	// Merged apart, each kernel's line counts its own kind's samples only.
	for _, tc := range []struct {
		svg, legend string
	}{
		{raw, "6.1 (8 boots, 160000 samples)"}, {raw, "6.12-rt (7 boots, 140000 samples)"},
		{corrected, "6.1 (8 boots, 168000 samples)"}, {corrected, "6.12-rt (7 boots, 147000 samples)"},
	} {
		if !strings.Contains(tc.svg, tc.legend) {
			t.Errorf("distribution plot lacks %q: raw and corrected histograms merged?", tc.legend)
		}
	}
	for _, svg := range dists {
		// 3 kernels: a merged line each, and a line per OK boot (8+8+7).
		if merged, boot := strings.Count(svg, `<polyline class="merged"`), strings.Count(svg, `<polyline class="boot"`); merged != 3 || boot != 23 {
			t.Errorf("distribution plot has %d merged and %d per-boot lines, want 3 and 23", merged, boot)
		}
	}
}

func TestHTMLPlots(t *testing.T) {
	run, boots, c := fixtureComparison(t)
	addCorrected(t, boots)
	var b bytes.Buffer
	if err := WriteHTML(&b, c, run, boots); err != nil {
		t.Fatal(err)
	}
	checkHTMLPlots(t, c, b.String())
}

// The value axis of a metric with no negative value starts at 0 at most,
// whatever its margin or confidence band; one with a negative value may
// go below.
func TestValueAxis(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rows     []valueRow
		negative bool
	}{
		{"near zero", []valueRow{{vals: []float64{0.1, 0.2}}, {vals: []float64{5, 6}}}, false},
		{"zeros", []valueRow{{vals: []float64{0, 0}}, {vals: []float64{0}}}, false},
		{"one value", []valueRow{{vals: []float64{0.5, 0.5}}}, false},
		{"band below zero", []valueRow{{vals: []float64{1, 2}}, {vals: []float64{1, 3}, lo: -2, hi: 4}}, false},
		{"negative", []valueRow{{vals: []float64{-1, 2}}}, true},
	} {
		lo, hi, ok := valueAxis(tc.rows)
		if !ok || hi <= lo || (lo < 0) != tc.negative {
			t.Errorf("%s: value axis [%g, %g] ok %v, want it below 0: %v", tc.name, lo, hi, ok, tc.negative)
		}
		for _, v := range niceTicks(lo, hi, 5) {
			if v < lo || v > hi || (v < 0 && !tc.negative) {
				t.Errorf("%s: tick %g on the axis [%g, %g]", tc.name, v, lo, hi)
			}
		}
	}
}

// A metric recorded on one side only shows "-" for the other side's median,
// not a median of 0.
func TestReportOneSidedMetric(t *testing.T) {
	mk := func(kernel, metric string, i int) *Boot {
		return &Boot{Kernel: kernel, Index: i, Seq: i, Accel: "kvm", Outcome: OK, Scenarios: []Scenario{{Name: "s", Valid: true,
			Metrics: []Metric{{Name: metric, Unit: "segments", Better: HigherIsBetter, Value: 60}}}}}
	}
	boots := []*Boot{mk("a", "ssai1.cwnd", 0), mk("a", "ssai1.cwnd", 1), mk("b", "ssai0.cwnd", 0), mk("b", "ssai0.cwnd", 1)}
	c := Compare("a", boots, CompareOptions{})
	var text, mdown strings.Builder
	if err := WriteText(&text, c, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&mdown, c, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ format, out, want string }{
		{"text", text.String(), "s/ssai1.cwnd  60 segments  -"},
		{"text", text.String(), "s/ssai0.cwnd  -            60 segments"},
		{"markdown", mdown.String(), "| `s/ssai0.cwnd` | - | 60 segments |"},
	} {
		if !strings.Contains(tc.out, tc.want) {
			t.Errorf("%s report does not contain %q:\n%s", tc.format, tc.want, tc.out)
		}
	}
}

// bigComparison is a comparison of kernels candidates with metrics metrics
// each, the first decided of them regressions and the rest equivalent.
func bigComparison(kernels, metrics, decided int) *Comparison {
	c := &Comparison{Schema: ComparisonSchema, Baseline: "6.1", Alpha: 0.05, BaselineBoots: BootCounts{Total: 8, OK: 8}}
	for i := range kernels {
		k := KernelResult{Kernel: fmt.Sprintf("6.12-variant%03d", i), Boots: BootCounts{Total: 8, OK: 8},
			Changes: []Change{{Kind: "config", Key: "CONFIG_HZ", Base: "250", Cand: "1000"}}}
		for j := range metrics {
			m := MetricResult{Key: fmt.Sprintf("scenario%02d/metric-with-a-long-name%03d.p99", j%10, j), Unit: "ns", Better: LowerIsBetter,
				Base: []float64{1e5, 1.1e5, 0.9e5}, Cand: []float64{1e5, 1.1e5, 0.9e5}, BaseMedian: 1e5, CandMedian: 1e5,
				Scale: LogScale, Ratio: 1.001, Lo: 0.99, Hi: 1.01, Level: 0.9, P: 0.5, Q: 0.8, Verdict: Equivalent}
			if j < decided {
				m.CandMedian, m.Ratio, m.Lo, m.Hi, m.P, m.Q, m.Verdict = 1.5e5, 1.5, 1.4, 1.6, 1e-6, 1e-5, Regression
			}
			k.Metrics = append(k.Metrics, m)
		}
		c.Kernels = append(c.Kernels, k)
	}
	return c
}

// report.md fits a GitHub comment (65,536 characters) however large the
// comparison, and opens with the answer in any case; a comparison that fits
// keeps its full tables.
func TestMarkdownFitsComment(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		kernels, metrics, decided int
		full, decidedRows, cut    bool
	}{
		{"small", 2, 20, 3, true, true, false},
		{"many metrics", 12, 300, 12, false, true, false},
		{"many decided", 40, 300, 200, false, false, false},
		{"many kernels", 400, 50, 20, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := bigComparison(tc.kernels, tc.metrics, tc.decided)
			var b strings.Builder
			if err := WriteMarkdown(&b, c, nil); err != nil {
				t.Fatal(err)
			}
			doc := b.String()
			if len(doc) >= 65536 {
				t.Fatalf("report.md is %d characters, want < 65536", len(doc))
			}
			answer := strings.Index(doc, "**The answer**\n\n```\n"+Answer(c)[0]+"\n")
			if answer < 0 || strings.Contains(doc[:answer], "###") || strings.Contains(doc[:answer], "|") {
				t.Errorf("report.md does not open with the answer:\n%.500s", doc)
			}
			if n := strings.Count(doc, "```"); n%2 != 0 {
				t.Errorf("report.md leaves a code block open (%d fences)", n)
			}
			if got := strings.Contains(doc, "<summary>All "); got != tc.full {
				t.Errorf("report.md has the full tables: %v, want %v", got, tc.full)
			}
			if got := strings.Contains(doc, "report.html and report.json"); got == tc.full {
				t.Errorf("report.md says where the full report is: %v, want %v", got, !tc.full)
			}
			row := "| `scenario00/metric-with-a-long-name000.p99` |"
			if got := strings.Contains(doc, row); got != tc.decidedRows {
				t.Errorf("report.md has the decided changes' rows: %v, want %v", got, tc.decidedRows)
			}
			if got := strings.Contains(doc, "The report is cut here"); got != tc.cut {
				t.Errorf("report.md is cut: %v, want %v", got, tc.cut)
			}
			if !tc.cut && strings.Count(doc, "\n### ") != tc.kernels {
				t.Errorf("report.md has %d kernel headings, want %d", strings.Count(doc, "\n### "), tc.kernels)
			}
		})
	}
}
