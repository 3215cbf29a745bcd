package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
	"github.com/kvet/kvet/scenarios/memsys"
)

// ScratchDisker is implemented by the parameters of a scenario that needs
// the boot's scratch disk (swap on disk, a page cache to stream through):
// its size in MiB, 0 for none.
type ScratchDisker interface {
	ScratchDiskMB() int
}

// SwapInParams are the parameters of swap-in.
type SwapInParams struct {
	Swap        string        `yaml:"swap" json:"swap" doc:"the swap device: zram (compressed, in guest memory) or disk (the boot's scratch disk, a virtio-blk disk backed by a sparse file; on bare metal a swap file in TMPDIR) (zram)"`
	SwapMB      int           `yaml:"swap_mb" json:"swap_mb" doc:"swap size in MiB (quick 256, full 512)"`
	LimitMB     int           `yaml:"limit_mb" json:"limit_mb" doc:"memory.max of the scenario's cgroup, which holds the interactive and the batch process: the machine's memory as they see it (quick 96, full 256)"`
	SetMB       int           `yaml:"set_mb" json:"set_mb" doc:"the interactive process's working set in MiB (quick 48, full 128)"`
	BatchMB     int           `yaml:"batch_mb" json:"batch_mb" doc:"anonymous memory the batch process writes through, in MiB (quick 128, full 384)"`
	BatchFileMB int           `yaml:"batch_file_mb" json:"batch_file_mb" doc:"page cache the batch process reads through at the same time, in MiB, from the scratch disk (on bare metal a file in TMPDIR); 0: none (quick 128, full 384)"`
	Passes      int           `yaml:"passes" json:"passes" doc:"times the batch process writes its memory (quick 1, full 2)"`
	Idle        time.Duration `yaml:"idle" json:"idle" doc:"the interactive process's idle time before the batch starts (500ms)"`
	Rounds      int           `yaml:"rounds" json:"rounds" doc:"night-and-morning rounds, each in fresh processes and cgroups (quick 1, full 3)"`
	Swappiness  int           `yaml:"swappiness" json:"swappiness" doc:"vm.swappiness during the scenario, 0..200 (restored after); -1: as the guest is configured (-1)"`
	MGLRU       string        `yaml:"mglru" json:"mglru" doc:"the multi-gen LRU during the scenario: on, off, or empty for as the kernel is configured; a kernel without it skips on and off with a note ()"`
	Protect     string        `yaml:"protect" json:"protect" doc:"the interactive cgroup's protection: none, low (memory.low = set_mb) or min (memory.min = set_mb) (none)"`
}

// Validate checks the parameters.
func (p *SwapInParams) Validate() error {
	switch {
	case p.Swap != memsys.SwapZram && p.Swap != memsys.SwapDisk:
		return fmt.Errorf("swap: %q (want zram or disk)", p.Swap)
	case p.SwapMB < 16 || p.SwapMB > 16<<10:
		return fmt.Errorf("swap_mb: %d must be in 16..16384", p.SwapMB)
	case p.LimitMB < 16 || p.LimitMB > 64<<10:
		return fmt.Errorf("limit_mb: %d must be in 16..65536", p.LimitMB)
	case p.SetMB < 1 || p.SetMB >= p.LimitMB:
		return fmt.Errorf("set_mb: %d must be in 1..limit_mb-1 (%d)", p.SetMB, p.LimitMB-1)
	case p.BatchMB < 1 || p.BatchMB > 64<<10:
		return fmt.Errorf("batch_mb: %d must be in 1..65536", p.BatchMB)
	case p.BatchFileMB < 0 || p.BatchFileMB > 64<<10:
		return fmt.Errorf("batch_file_mb: %d must be in 0..65536", p.BatchFileMB)
	case p.Passes < 1 || p.Passes > 100:
		return fmt.Errorf("passes: %d must be in 1..100", p.Passes)
	case p.Idle < 0 || p.Idle > time.Hour:
		return fmt.Errorf("idle: %v must be in 0..1h", p.Idle)
	case p.Rounds < 1 || p.Rounds > 100:
		return fmt.Errorf("rounds: %d must be in 1..100", p.Rounds)
	case p.Swappiness < -1 || p.Swappiness > 200:
		return fmt.Errorf("swappiness: %d must be -1 (as configured) or 0..200", p.Swappiness)
	case p.MGLRU != "" && p.MGLRU != "on" && p.MGLRU != "off":
		return fmt.Errorf("mglru: %q (want on, off or empty)", p.MGLRU)
	case p.Protect != "none" && p.Protect != "low" && p.Protect != "min":
		return fmt.Errorf("protect: %q (want none, low or min)", p.Protect)
	case p.SwapMB <= p.BatchMB+p.SetMB-p.LimitMB:
		return fmt.Errorf("swap_mb: %d MiB cannot hold what the batch and the set push out of limit_mb (%d MiB)", p.SwapMB, p.BatchMB+p.SetMB-p.LimitMB)
	}
	return nil
}

// ScratchDiskMB is the disk a boot needs: the swap area on disk, and the
// page cache the batch reads (the same disk: reads of a device with a
// swap area on it still go through its page cache).
func (p *SwapInParams) ScratchDiskMB() int {
	n := p.BatchFileMB
	if p.Swap == memsys.SwapDisk {
		n = max(n, p.SwapMB)
	}
	if n == 0 {
		return 0
	}
	return n + 16
}

func init() {
	register(def[SwapInParams]{
		Name:     "swap-in",
		Measures: "the morning after: how long an idle interactive process takes to touch its working set again after a batch job pushed it into swap (major faults, per-page latency, PSI, how much was swapped out)",
		Catches:  "swap readahead, MGLRU and reclaim-balance changes, memory.low/min protection that stops holding, zram/zswap regressions",
		Needs: func(p *SwapInParams) []string {
			n := []string{NeedRoot, NeedCgroup2}
			if p.Swappiness >= 0 {
				n = append(n, NeedSysctl("vm.swappiness"))
			}
			return n
		},
		Defaults: func(profile string) *SwapInParams {
			p := &SwapInParams{Swap: memsys.SwapZram, SwapMB: 256, LimitMB: 96, SetMB: 48, BatchMB: 128, BatchFileMB: 128,
				Passes: 1, Idle: 500 * time.Millisecond, Rounds: 1, Swappiness: -1, Protect: "none"}
			if profile == Full {
				p.SwapMB, p.LimitMB, p.SetMB, p.BatchMB, p.BatchFileMB, p.Passes, p.Rounds = 512, 256, 128, 384, 384, 2, 3
			}
			return p
		},
		Run: runSwapIn,
	})
}

// swapRound is what one night and morning saw.
type swapRound struct {
	touch      *memsys.Touch
	hist       *hdrhistogram.Histogram
	swappedOut int64 // bytes of the set in swap before the morning
	batch      int64 // ns the batch took
	batchOOM   int   // batch processes the OOM killer took
	// interKilled: the OOM killer took the interactive process in the
	// night; touch is nil.
	interKilled bool
	psi         memsys.Pressure
}

func runSwapIn(ctx context.Context, env Env, p *SwapInParams, r *results.Scenario) (*results.Scenario, error) {
	undo, err := memSetup(env, p.Swappiness, p.MGLRU, r)
	defer undo()
	if err != nil {
		return nil, err
	}
	swap, err := memsys.SwapOn(p.Swap, int64(p.SwapMB)<<20, "")
	if err != nil {
		return nil, err
	}
	defer swap.Off()
	r.Notes = append(r.Notes, fmt.Sprintf("swap: %s on %s, %d MiB", swap.Type, swap.Path, p.SwapMB))
	cache, cleanup, err := cacheSource(p.BatchFileMB)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var rounds []swapRound
	for i := 0; i < p.Rounds; i++ {
		rd, err := swapInRound(ctx, p, cache)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", i+1, err)
		}
		if rd.interKilled {
			r.Notes = append(r.Notes, fmt.Sprintf("round %d: the OOM killer took the interactive process in the night", i+1))
		} else if rd.touch.Corrupt > 0 {
			return nil, fmt.Errorf("round %d: %d of %d pages read back wrong after swap-in: memory corruption", i+1, rd.touch.Corrupt, rd.touch.Pages)
		}
		rounds = append(rounds, rd)
	}
	r.Metrics = append(r.Metrics, swapInMetrics(rounds, int64(p.SetMB)<<20)...)
	if h := mergeTouch(rounds); h != nil {
		if enc, err := measure.Encode("swapin.touch", "ns", false, h); err == nil {
			r.Histograms = append(r.Histograms, enc)
		}
	}
	return r, nil
}

// memSetup mounts cgroup2 and sets vm.swappiness and the multi-gen LRU as
// asked (noting what the guest had); undo restores them.
func memSetup(env Env, swappiness int, mglru string, r *results.Scenario) (undo func(), err error) {
	var knobs []*memsys.Knob
	undo = func() {
		for _, k := range knobs {
			k.Restore()
		}
	}
	if err := memsys.MountCgroup2(); err != nil {
		return undo, err
	}
	if swappiness >= 0 {
		k := &memsys.Knob{Path: memsys.SwappinessPath}
		knobs = append(knobs, k)
		if err := k.Set(strconv.Itoa(swappiness)); err != nil {
			return undo, err
		}
	}
	if s, err := memsys.Read(memsys.SwappinessPath); err == nil {
		r.Notes = append(r.Notes, "vm.swappiness = "+s)
	}
	if mglru != "" {
		if _, err := memsys.Read(memsys.MGLRUPath); err != nil {
			r.Notes = append(r.Notes, "mglru: "+mglru+" asked for, the kernel has no multi-gen LRU (CONFIG_LRU_GEN): as configured")
		} else {
			k := &memsys.Knob{Path: memsys.MGLRUPath}
			knobs = append(knobs, k)
			v := map[string]string{"on": "y", "off": "n"}[mglru]
			if err := k.Set(v); err != nil {
				return undo, err
			}
		}
	}
	if s, err := memsys.Read(memsys.MGLRUPath); err == nil {
		r.Notes = append(r.Notes, "lru_gen/enabled = "+s)
	}
	return undo, nil
}

// cacheSource is what a batch reads through the page cache: the scratch
// disk, else (bare metal) a file of mb MiB written to TMPDIR.
func cacheSource(mb int) (string, func(), error) {
	if mb == 0 {
		return "", func() {}, nil
	}
	if d, size, err := memsys.ScratchDisk(); err == nil {
		if size < int64(mb)<<20 {
			return "", nil, fmt.Errorf("scratch disk %s: %d MiB, the batch reads %d", d, size>>20, mb)
		}
		return d, func() {}, nil
	}
	return memsys.CacheFile("", int64(mb)<<20)
}

func swapInRound(ctx context.Context, p *SwapInParams, cache string) (swapRound, error) {
	var rd swapRound
	top, err := memsys.NewCgroup(nil, "kvet-swap-in")
	if err != nil {
		return rd, err
	}
	defer top.Remove()
	if err := top.Set("memory.max", strconv.Itoa(p.LimitMB<<20)); err != nil {
		return rd, err
	}
	inter, err := memsys.NewCgroup(top, "interactive")
	if err != nil {
		return rd, err
	}
	batch, err := memsys.NewCgroup(top, "batch")
	if err != nil {
		return rd, err
	}
	if p.Protect != "none" {
		if err := inter.Set("memory."+p.Protect, strconv.Itoa(p.SetMB<<20)); err != nil {
			return rd, err
		}
	}
	hold, err := memsys.StartRole(inter, "interactive", memsys.RoleHold, strconv.Itoa(p.SetMB), "0")
	if err != nil {
		return rd, err
	}
	defer hold.Stop(5 * time.Second)
	if l, err := hold.Line(5 * time.Minute); err != nil || l != "ready" {
		return rd, fmt.Errorf("interactive: %q, %v", l, err)
	}
	select {
	case <-ctx.Done():
		return rd, ctx.Err()
	case <-time.After(p.Idle):
	}

	// The night: the batch writes its memory and reads its files.
	t0 := measure.Now()
	var jobs []*memsys.Role
	j, err := memsys.StartRole(batch, "batch", memsys.RoleStream, strconv.Itoa(p.BatchMB), strconv.Itoa(p.Passes), "0")
	if err != nil {
		return rd, err
	}
	jobs = append(jobs, j)
	if cache != "" {
		j, err := memsys.StartRole(batch, "batch-reader", memsys.RoleRead, cache, strconv.Itoa(p.BatchFileMB), "0")
		if err != nil {
			return rd, err
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		select {
		case <-j.Exited:
		case <-time.After(10 * time.Minute):
			j.Stop(0)
			return rd, fmt.Errorf("%s: not done in 10 minutes", j.Name)
		case <-ctx.Done():
			j.Stop(0)
			return rd, ctx.Err()
		}
		switch {
		case j.Killed():
			rd.batchOOM++
		case j.ExitErr != nil:
			return rd, fmt.Errorf("%s: %v", j.Name, j.ExitErr)
		}
	}
	rd.batch = measure.Now() - t0
	select {
	case <-hold.Exited:
		if !hold.Killed() {
			return rd, fmt.Errorf("interactive: died in the night: %v", hold.ExitErr)
		}
		// The OOM killer took the interactive process rather than swap
		// it out (vm.swappiness 0 in a cgroup: anonymous memory is never
		// reclaimed): a finding, with no morning to time.
		rd.interKilled = true
		return rd, nil
	default:
	}
	if rd.swappedOut, err = inter.Int("memory.swap.current"); err != nil {
		return rd, err
	}

	// The morning.
	psi0, perr := inter.Pressure()
	if err := hold.Send("touch"); err != nil {
		return rd, err
	}
	l, err := hold.Line(10 * time.Minute)
	if err != nil {
		return rd, err
	}
	psi1, _ := inter.Pressure()
	if perr == nil {
		rd.psi = psi1.Sub(psi0)
	} else {
		rd.psi = memsys.Pressure{Some: -1}
	}
	rd.touch = &memsys.Touch{}
	if err := json.Unmarshal([]byte(l), rd.touch); err != nil {
		return rd, fmt.Errorf("interactive: %q: %w", l, err)
	}
	if rd.hist, err = rd.touch.Histogram(); err != nil {
		return rd, err
	}
	return rd, nil
}

func mergeTouch(rounds []swapRound) *hdrhistogram.Histogram {
	var h *hdrhistogram.Histogram
	for _, rd := range rounds {
		if rd.hist == nil {
			continue
		}
		if h == nil {
			h = measure.NewHist()
		}
		h.Merge(rd.hist)
	}
	return h
}

func swapInMetrics(rounds []swapRound, set int64) []results.Metric {
	var wall, majflt, out, batch, some, full []float64
	var oom, killed int64
	for _, rd := range rounds {
		oom += int64(rd.batchOOM)
		batch = append(batch, float64(rd.batch))
		if rd.interKilled {
			killed++
			continue
		}
		wall = append(wall, float64(rd.touch.Wall))
		majflt = append(majflt, float64(rd.touch.MajFlt))
		out = append(out, min(1, float64(rd.swappedOut)/float64(set)))
		if rd.psi.Some >= 0 {
			some = append(some, float64(rd.psi.Some*1000)/float64(rd.touch.Wall))
			full = append(full, float64(rd.psi.Full*1000)/float64(rd.touch.Wall))
		}
	}
	n := int64(len(rounds))
	pages := set / int64(os.Getpagesize())
	ms := []results.Metric{
		{Name: "interactive.oom_killed", Unit: "ratio", Better: results.LowerIsBetter, Value: float64(killed) / float64(n), Samples: n, Fraction: true, Primary: true},
		{Name: "batch.time", Unit: "ns", Better: results.Info, Value: tcpMedian(batch), Samples: n, Quantile: 50, Timing: true},
		{Name: "batch.oom_kills", Unit: "count", Better: results.LowerIsBetter, Value: float64(oom), Samples: n},
	}
	if killed == n {
		return ms
	}
	live := n - killed
	ms = append(ms, []results.Metric{
		{Name: "swapin.time", Unit: "ns", Better: results.LowerIsBetter, Value: tcpMedian(wall), Samples: live, Quantile: 50, Timing: true, Primary: true},
		// Kernel state: how many pages came back from swap by a fault of
		// their own (readahead brings the others), and how much of the set
		// the night pushed out.
		{Name: "swapin.major_faults", Unit: "count", Better: results.LowerIsBetter, Value: tcpMedian(majflt), Samples: live, Primary: true},
		{Name: "swapped_out", Unit: "ratio", Better: results.LowerIsBetter, Value: tcpMedian(out), Samples: pages * live, Fraction: true, Primary: true},
	}...)
	if len(some) > 0 {
		ms = append(ms,
			results.Metric{Name: "swapin.psi_some", Unit: "ratio", Better: results.LowerIsBetter, Value: tcpMedian(some), Samples: int64(len(some)), Timing: true},
			results.Metric{Name: "swapin.psi_full", Unit: "ratio", Better: results.LowerIsBetter, Value: tcpMedian(full), Samples: int64(len(full)), Timing: true})
	}
	if h := mergeTouch(rounds); h != nil {
		for _, m := range measure.Summarize("swapin.touch", h) {
			if strings.HasSuffix(m.Name, ".p50") || strings.HasSuffix(m.Name, ".p99") || strings.HasSuffix(m.Name, ".max") {
				ms = append(ms, m)
			}
		}
	}
	return ms
}
