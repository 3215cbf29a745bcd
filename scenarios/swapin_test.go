package scenarios

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
	"github.com/kvet/kvet/scenarios/memsys"
)

func swapInDefaults(t *testing.T, profile string) *SwapInParams {
	t.Helper()
	spec, err := Lookup("swap-in")
	if err != nil {
		t.Fatal(err)
	}
	p, ok := spec.Defaults(profile).(*SwapInParams)
	if !ok {
		t.Fatalf("swap-in %s defaults: %T, want *SwapInParams", profile, spec.Defaults(profile))
	}
	return p
}

func TestSwapInValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*SwapInParams)
		field string // "" = valid
	}{
		{"defaults", func(*SwapInParams) {}, ""},
		{"disk", func(p *SwapInParams) { p.Swap = memsys.SwapDisk }, ""},
		{"no swap type", func(p *SwapInParams) { p.Swap = "" }, "swap:"},
		{"swap none", func(p *SwapInParams) { p.Swap = memsys.SwapNone }, "swap:"},
		{"swap on ssd", func(p *SwapInParams) { p.Swap = "ssd" }, "swap:"},
		{"swap_mb too small", func(p *SwapInParams) { p.SwapMB = 15 }, "swap_mb: 15"},
		{"swap_mb smallest", func(p *SwapInParams) { p.SwapMB, p.SetMB, p.BatchMB = 16, 8, 8 }, ""},
		{"swap_mb largest", func(p *SwapInParams) { p.SwapMB = 16 << 10 }, ""},
		{"swap_mb too large", func(p *SwapInParams) { p.SwapMB = 16<<10 + 1 }, "swap_mb: 16385"},
		{"limit_mb too small", func(p *SwapInParams) { p.LimitMB, p.SetMB = 15, 8 }, "limit_mb: 15"},
		{"limit_mb too large", func(p *SwapInParams) { p.LimitMB = 64<<10 + 1 }, "limit_mb: 65537"},
		{"no set", func(p *SwapInParams) { p.SetMB = 0 }, "set_mb: 0"},
		{"set fills the limit", func(p *SwapInParams) { p.SetMB = p.LimitMB }, "set_mb: 96"},
		{"set just under the limit", func(p *SwapInParams) { p.SetMB = p.LimitMB - 1 }, ""},
		{"no batch", func(p *SwapInParams) { p.BatchMB = 0 }, "batch_mb: 0"},
		{"batch too large", func(p *SwapInParams) { p.BatchMB = 64<<10 + 1 }, "batch_mb: 65537"},
		{"no batch file", func(p *SwapInParams) { p.BatchFileMB = 0 }, ""},
		{"negative batch file", func(p *SwapInParams) { p.BatchFileMB = -1 }, "batch_file_mb: -1"},
		{"batch file too large", func(p *SwapInParams) { p.BatchFileMB = 64<<10 + 1 }, "batch_file_mb: 65537"},
		{"no passes", func(p *SwapInParams) { p.Passes = 0 }, "passes: 0"},
		{"too many passes", func(p *SwapInParams) { p.Passes = 101 }, "passes: 101"},
		{"no idle", func(p *SwapInParams) { p.Idle = 0 }, ""},
		{"negative idle", func(p *SwapInParams) { p.Idle = -time.Millisecond }, "idle:"},
		{"idle over an hour", func(p *SwapInParams) { p.Idle = time.Hour + time.Second }, "idle:"},
		{"no rounds", func(p *SwapInParams) { p.Rounds = 0 }, "rounds: 0"},
		{"too many rounds", func(p *SwapInParams) { p.Rounds = 101 }, "rounds: 101"},
		{"swappiness 0", func(p *SwapInParams) { p.Swappiness = 0 }, ""},
		{"swappiness 200", func(p *SwapInParams) { p.Swappiness = 200 }, ""},
		{"swappiness below -1", func(p *SwapInParams) { p.Swappiness = -2 }, "swappiness: -2"},
		{"swappiness over 200", func(p *SwapInParams) { p.Swappiness = 201 }, "swappiness: 201"},
		{"mglru on", func(p *SwapInParams) { p.MGLRU = "on" }, ""},
		{"mglru off", func(p *SwapInParams) { p.MGLRU = "off" }, ""},
		{"mglru y", func(p *SwapInParams) { p.MGLRU = "y" }, "mglru:"},
		{"protect low", func(p *SwapInParams) { p.Protect = "low" }, ""},
		{"protect min", func(p *SwapInParams) { p.Protect = "min" }, ""},
		{"protect empty", func(p *SwapInParams) { p.Protect = "" }, "protect:"},
		{"protect max", func(p *SwapInParams) { p.Protect = "max" }, "protect:"},
		// Quick: batch 128 + set 48 - limit 96 = 80 MiB must go to swap.
		{"zram too small for the push-out", func(p *SwapInParams) { p.SwapMB = 80 }, "cannot hold"},
		{"disk too small for the push-out", func(p *SwapInParams) { p.Swap, p.SwapMB = memsys.SwapDisk, 80 }, "cannot hold"},
		{"zram just large enough", func(p *SwapInParams) { p.SwapMB = 81 }, ""},
	}
	for _, tt := range tests {
		p := swapInDefaults(t, Quick)
		tt.edit(p)
		err := p.Validate()
		if tt.field == "" && err != nil {
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		}
		if tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)) {
			t.Errorf("%s: Validate() = %v, want an error saying %q", tt.name, err, tt.field)
		}
	}
	schedCheckDefaults(t, "swap-in")
	for _, prof := range []string{Quick, Full} {
		if p := swapInDefaults(t, prof); p.Swap != memsys.SwapZram || p.Protect != "none" || p.Swappiness != -1 {
			t.Errorf("%s defaults %+v: want zram, protect none, swappiness as configured", prof, p)
		}
	}
	if q, f := swapInDefaults(t, Quick), swapInDefaults(t, Full); f.Rounds <= q.Rounds || f.SetMB <= q.SetMB {
		t.Errorf("full defaults (%d rounds, set %d MiB) no larger than quick (%d, %d)", f.Rounds, f.SetMB, q.Rounds, q.SetMB)
	}
}

func TestSwapInScratchDisk(t *testing.T) {
	tests := []struct {
		swap           string
		swapMB, fileMB int
		want           int
	}{
		{memsys.SwapZram, 256, 0, 0},      // nothing on disk
		{memsys.SwapZram, 256, 128, 144},  // the batch's file only
		{memsys.SwapDisk, 300, 0, 316},    // the swap area only
		{memsys.SwapDisk, 300, 128, 316},  // one disk for both: the larger
		{memsys.SwapDisk, 256, 500, 516},  // the file is the larger
		{memsys.SwapDisk, 512, 512, 528},  // equal
		{memsys.SwapZram, 4096, 500, 516}, // zram's size is not on disk
	}
	for _, tt := range tests {
		p := &SwapInParams{Swap: tt.swap, SwapMB: tt.swapMB, BatchFileMB: tt.fileMB}
		if got := p.ScratchDiskMB(); got != tt.want {
			t.Errorf("ScratchDiskMB(swap %s %d MiB, file %d MiB) = %d, want %d", tt.swap, tt.swapMB, tt.fileMB, got, tt.want)
		}
	}
	var _ ScratchDisker = &SwapInParams{}
}

// swapHist is a touch histogram of the given per-page latencies (ns).
func swapHist(ns ...int64) *hdrhistogram.Histogram {
	h := measure.NewHist()
	for _, v := range ns {
		measure.Record(h, v)
	}
	return h
}

// metricsByName indexes ms, failing on a name given twice.
func metricsByName(t *testing.T, ms []results.Metric) map[string]results.Metric {
	t.Helper()
	out := map[string]results.Metric{}
	for _, m := range ms {
		if _, dup := out[m.Name]; dup {
			t.Errorf("metric %s given twice", m.Name)
		}
		out[m.Name] = m
		if m.Unit == "" {
			t.Errorf("metric %s has no unit", m.Name)
		}
		if m.Better != results.LowerIsBetter && m.Better != results.HigherIsBetter && m.Better != results.Info {
			t.Errorf("metric %s: direction %q", m.Name, m.Better)
		}
	}
	return out
}

func near(got, want float64) bool { return math.Abs(got-want) <= 0.01*math.Abs(want) }

// TestSwapInMetricsKilledAndLive: one night the OOM killer took the
// interactive process, one it was swapped out (more than the set: the
// counter holds more than the set's pages, capped at all of it).
func TestSwapInMetricsKilledAndLive(t *testing.T) {
	const set = 4 << 20
	pages := int64(set / os.Getpagesize())
	rounds := []swapRound{
		{interKilled: true, batch: 7e9},
		{
			touch:      &memsys.Touch{Pages: pages, Wall: 2e6, MajFlt: 300, MinFlt: 20},
			hist:       swapHist(1000, 2000, 3000, 50000),
			swappedOut: 2 * set,
			batch:      5e9,
			batchOOM:   1,
			psi:        memsys.Pressure{Some: 500, Full: 100}, // µs
		},
	}
	ms := metricsByName(t, swapInMetrics(rounds, set))
	var names []string
	for n := range ms {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"batch.oom_kills", "batch.time", "interactive.oom_killed", "swapin.major_faults", "swapin.psi_full", "swapin.psi_some",
		"swapin.time", "swapin.touch.max", "swapin.touch.p50", "swapin.touch.p99", "swapped_out"}
	if !slices.Equal(names, want) {
		t.Errorf("metrics %v, want %v", names, want)
	}
	checks := []struct {
		name     string
		value    float64
		samples  int64
		fraction bool
		unit     string
	}{
		{"interactive.oom_killed", 0.5, 2, true, "ratio"},
		{"batch.time", 6e9, 2, false, "ns"},
		{"batch.oom_kills", 1, 2, false, "count"},
		{"swapin.time", 2e6, 1, false, "ns"},
		{"swapin.major_faults", 300, 1, false, "count"},
		// A page of the set is an observation, in each round it lived.
		{"swapped_out", 1, pages, true, "ratio"},
		// PSI's µs over the touch's ns.
		{"swapin.psi_some", 0.25, 1, false, "ratio"},
		{"swapin.psi_full", 0.05, 1, false, "ratio"},
		{"swapin.touch.p50", 2000, 4, false, "ns"},
		{"swapin.touch.max", 50000, 4, false, "ns"},
	}
	for _, c := range checks {
		m, ok := ms[c.name]
		if !ok {
			continue
		}
		if !near(m.Value, c.value) || m.Samples != c.samples || m.Fraction != c.fraction || m.Unit != c.unit {
			t.Errorf("%s = %v (%d samples, fraction %t, %s), want %v (%d, %t, %s)", c.name, m.Value, m.Samples, m.Fraction, m.Unit, c.value, c.samples, c.fraction, c.unit)
		}
	}
	for _, n := range []string{"interactive.oom_killed", "batch.oom_kills", "swapin.time", "swapin.major_faults", "swapped_out"} {
		if m := ms[n]; m.Better != results.LowerIsBetter {
			t.Errorf("%s: direction %q, want lower is better", n, m.Better)
		}
	}
	if m := ms["batch.time"]; m.Better != results.Info {
		t.Errorf("batch.time: direction %q, want info (the batch's speed is not the question)", m.Better)
	}
	// Only what depends on the clock is timing: counts and shares of
	// pages compare across accelerators.
	for n, timing := range map[string]bool{"swapin.time": true, "batch.time": true, "swapin.psi_some": true,
		"swapin.major_faults": false, "swapped_out": false, "interactive.oom_killed": false} {
		if ms[n].Timing != timing {
			t.Errorf("%s: timing %t, want %t", n, ms[n].Timing, timing)
		}
	}
}

// TestSwapInMetricsLive: two mornings, part of the set swapped out, no
// PSI (a kernel without it): medians over the rounds, no psi metrics,
// the touch histograms merged.
func TestSwapInMetricsLive(t *testing.T) {
	const set = 8 << 20
	pages := int64(set / os.Getpagesize())
	rounds := []swapRound{
		{touch: &memsys.Touch{Pages: pages, Wall: 1e6, MajFlt: 100}, hist: swapHist(500, 600), swappedOut: set / 4, batch: 1e9, psi: memsys.Pressure{Some: -1}},
		{touch: &memsys.Touch{Pages: pages, Wall: 3e6, MajFlt: 200}, hist: swapHist(700, 800, 900), swappedOut: set / 2, batch: 2e9, batchOOM: 2, psi: memsys.Pressure{Some: -1}},
	}
	ms := metricsByName(t, swapInMetrics(rounds, set))
	for _, c := range []struct {
		name    string
		value   float64
		samples int64
	}{
		{"interactive.oom_killed", 0, 2},
		{"batch.oom_kills", 2, 2},
		{"swapin.time", 2e6, 2},
		{"swapin.major_faults", 150, 2},
		{"swapped_out", 0.375, 2 * pages},
		{"swapin.touch.max", 900, 5},
	} {
		m, ok := ms[c.name]
		if !ok {
			t.Errorf("no metric %s", c.name)
			continue
		}
		if math.Abs(m.Value-c.value) > 0.01*math.Max(1, c.value) || m.Samples != c.samples {
			t.Errorf("%s = %v (%d samples), want %v (%d)", c.name, m.Value, m.Samples, c.value, c.samples)
		}
	}
	for _, n := range []string{"swapin.psi_some", "swapin.psi_full"} {
		if m, ok := ms[n]; ok {
			t.Errorf("%s = %v without PSI, want no metric", n, m.Value)
		}
	}
}

// TestSwapInMetricsAllKilled: no morning to time: only the kills and the
// batch are reported.
func TestSwapInMetricsAllKilled(t *testing.T) {
	rounds := []swapRound{{interKilled: true, batch: 1e9, batchOOM: 1}, {interKilled: true, batch: 3e9}, {interKilled: true, batch: 2e9}}
	ms := metricsByName(t, swapInMetrics(rounds, 4<<20))
	if len(ms) != 3 {
		t.Errorf("%d metrics %v, want interactive.oom_killed, batch.time and batch.oom_kills only", len(ms), ms)
	}
	if m := ms["interactive.oom_killed"]; m.Value != 1 || m.Samples != 3 || !m.Fraction {
		t.Errorf("interactive.oom_killed = %+v, want 1 of 3, a fraction", m)
	}
	if m := ms["batch.time"]; m.Value != 2e9 || m.Samples != 3 {
		t.Errorf("batch.time = %+v, want the median 2e9 of 3", m)
	}
	if m := ms["batch.oom_kills"]; m.Value != 1 || m.Samples != 3 {
		t.Errorf("batch.oom_kills = %+v, want 1 in 3 rounds", m)
	}
}
