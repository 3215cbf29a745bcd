package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
	"github.com/kvet/kvet/scenarios/memsys"
)

// ReclaimParams are the parameters of reclaim-latency.
type ReclaimParams struct {
	HighMB   int           `yaml:"high_mb" json:"high_mb" doc:"memory.high of the cgroup that holds both processes, in MiB: above it every allocation reclaims first (64)"`
	CacheMB  int           `yaml:"cache_mb" json:"cache_mb" doc:"the page cache the neighbour streams through, in MiB, from the scratch disk (on bare metal a file in TMPDIR, which must not be tmpfs), read over and over (256)"`
	ChunkKB  int           `yaml:"chunk_kb" json:"chunk_kb" doc:"each allocation of the latency-sensitive process: KiB mapped, every page written, unmapped (256)"`
	Interval time.Duration `yaml:"interval" json:"interval" doc:"time between allocations (2ms)"`
	Count    int           `yaml:"count" json:"count" doc:"allocations timed (quick 1000, full 20000)"`
	Mode     string        `yaml:"mode" json:"mode" doc:"high: both processes under memory.high; none: no limit (the control: the same work without reclaim) (high)"`
}

// Validate checks the parameters.
func (p *ReclaimParams) Validate() error {
	switch {
	case p.HighMB < 16 || p.HighMB > 64<<10:
		return fmt.Errorf("high_mb: %d must be in 16..65536", p.HighMB)
	case p.CacheMB < 1 || p.CacheMB > 64<<10:
		return fmt.Errorf("cache_mb: %d must be in 1..65536", p.CacheMB)
	case p.ChunkKB < 4 || p.ChunkKB > 1<<20 || p.ChunkKB<<10 >= p.HighMB<<20:
		return fmt.Errorf("chunk_kb: %d must be in 4..1048576 and below high_mb", p.ChunkKB)
	case p.Interval < 0 || p.Interval > time.Second:
		return fmt.Errorf("interval: %v must be in 0..1s", p.Interval)
	case p.Count < 10 || p.Count > 1_000_000:
		return fmt.Errorf("count: %d must be in 10..1000000", p.Count)
	case p.Mode != "high" && p.Mode != "none":
		return fmt.Errorf("mode: %q (want high or none)", p.Mode)
	}
	return nil
}

// ScratchDiskMB: the neighbour reads the scratch disk.
func (p *ReclaimParams) ScratchDiskMB() int { return p.CacheMB + 16 }

func init() {
	register(def[ReclaimParams]{
		Name:     "reclaim-latency",
		Measures: "allocation latency of a latency-sensitive process while a neighbour in the same cgroup streams through the page cache under memory.high (direct reclaim, memory.high throttling)",
		Catches:  "direct-reclaim and memory.high throttling stalls, page-cache reclaim and LRU changes felt as allocation jitter",
		Needs:    func(p *ReclaimParams) []string { return []string{NeedRoot, NeedCgroup2} },
		Defaults: func(profile string) *ReclaimParams {
			p := &ReclaimParams{HighMB: 64, CacheMB: 256, ChunkKB: 256, Interval: 2 * time.Millisecond, Count: 1000, Mode: "high"}
			if profile == Full {
				p.Count = 20000
			}
			return p
		},
		Run: runReclaim,
	})
}

func runReclaim(ctx context.Context, env Env, p *ReclaimParams, r *results.Scenario) (*results.Scenario, error) {
	if err := memsys.MountCgroup2(); err != nil {
		return nil, err
	}
	cache, cleanup, err := cacheSource(p.CacheMB)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	top, err := memsys.NewCgroup(nil, "kvet-reclaim")
	if err != nil {
		return nil, err
	}
	defer top.Remove()
	if p.Mode == "high" {
		if err := top.Set("memory.high", strconv.Itoa(p.HighMB<<20)); err != nil {
			return nil, err
		}
	}
	neighbour, err := memsys.NewCgroup(top, "neighbour")
	if err != nil {
		return nil, err
	}
	sensitive, err := memsys.NewCgroup(top, "sensitive")
	if err != nil {
		return nil, err
	}
	// The neighbour fills the cache first, then keeps streaming while the
	// allocations are timed.
	reader, err := memsys.StartRole(neighbour, "neighbour", memsys.RoleRead, cache, strconv.Itoa(p.CacheMB), "0")
	if err != nil {
		return nil, err
	}
	if l, err := reader.Line(10 * time.Minute); err != nil {
		return nil, fmt.Errorf("neighbour: %q, %v", l, err)
	}
	<-reader.Exited
	streamer, err := memsys.StartRole(neighbour, "neighbour", memsys.RoleRead, cache, strconv.Itoa(1<<20), "0")
	if err != nil {
		return nil, err
	}
	defer streamer.Stop(0)
	st0, _ := top.Keyed("memory.stat")
	ev0, _ := top.Keyed("memory.events")
	vm0, _ := memsys.Vmstat()
	psi0, perr := sensitive.Pressure()
	t0 := measure.Now()
	alloc, err := memsys.StartRole(sensitive, "sensitive", memsys.RoleAlloc, strconv.Itoa(p.ChunkKB), strconv.Itoa(p.Count), strconv.FormatInt(p.Interval.Microseconds(), 10), "0")
	if err != nil {
		return nil, err
	}
	defer alloc.Stop(0)
	l, err := alloc.Line(30 * time.Minute)
	if err != nil {
		return nil, err
	}
	wall := measure.Now() - t0
	psi1, _ := sensitive.Pressure()
	st1, _ := top.Keyed("memory.stat")
	ev1, _ := top.Keyed("memory.events")
	vm1, _ := memsys.Vmstat()
	var t memsys.Touch
	if err := json.Unmarshal([]byte(l), &t); err != nil {
		return nil, fmt.Errorf("sensitive: %q: %w", l, err)
	}
	h, err := t.Histogram()
	if err != nil {
		return nil, err
	}
	cacheBytes := st1["file"]
	r.Notes = append(r.Notes, fmt.Sprintf("page cache in the group at the end: %d MiB; memory.high %s", cacheBytes>>20, map[string]string{"high": strconv.Itoa(p.HighMB) + " MiB", "none": "none"}[p.Mode]))
	n := int64(t.Pages)
	for _, m := range measure.Summarize("alloc", h) {
		if m.Quantile > 0 || m.Name == "alloc.mean" {
			m.Primary = m.Quantile == 50 || m.Quantile == 99
			r.Metrics = append(r.Metrics, m)
		}
	}
	delta := func(a, b map[string]int64, k string) float64 { return float64(b[k] - a[k]) }
	r.Metrics = append(r.Metrics,
		// Kernel state: how often the group went over memory.high, and the
		// pages scanned and taken by allocating tasks themselves.
		results.Metric{Name: "high_events", Unit: "count", Better: results.LowerIsBetter, Value: delta(ev0, ev1, "high"), Samples: n},
		results.Metric{Name: "direct_scan", Unit: "count", Better: results.LowerIsBetter, Value: delta(st0, st1, "pgscan_direct"), Samples: n},
		results.Metric{Name: "direct_steal", Unit: "count", Better: results.Info, Value: delta(st0, st1, "pgsteal_direct"), Samples: n},
		results.Metric{Name: "compact_stall", Unit: "count", Better: results.LowerIsBetter, Value: delta(vm0, vm1, "compact_stall"), Samples: n},
		results.Metric{Name: "minor_faults", Unit: "count", Better: results.Info, Value: float64(t.MinFlt), Samples: n},
	)
	if perr == nil && wall > 0 {
		d := psi1.Sub(psi0)
		r.Metrics = append(r.Metrics,
			results.Metric{Name: "psi_some", Unit: "ratio", Better: results.LowerIsBetter, Value: min(1, float64(d.Some*1000)/float64(wall)), Samples: n, Timing: true})
	}
	if enc, err := measure.Encode("alloc", "ns", false, h); err == nil {
		r.Histograms = append(r.Histograms, enc)
	}
	return r, nil
}
