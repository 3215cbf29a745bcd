package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
	"github.com/kvet/kvet/scenarios/memsys"
)

// Roles of oom-victim's processes.
const (
	oomImportant = "important"
	oomLeaker    = "leaker"
	oomHelper    = "helper"
)

// OOMVictimParams are the parameters of oom-victim.
type OOMVictimParams struct {
	Scope          string  `yaml:"scope" json:"scope" doc:"where memory runs out: cgroup (a memory.max of limit_mb over the processes, no swap) or guest (the whole machine: the processes are sized from MemTotal; kvet's own processes are exempt) (cgroup)"`
	LimitMB        int     `yaml:"limit_mb" json:"limit_mb" doc:"with scope cgroup: memory.max of the processes' group in MiB (128)"`
	ImportantShare float64 `yaml:"important_share" json:"important_share" doc:"the important process's size as a share of the memory (limit_mb, or MemTotal for scope guest): a large, long-lived process such as a database (0.5)"`
	Helpers        int     `yaml:"helpers" json:"helpers" doc:"small helper processes (2)"`
	HelperShare    float64 `yaml:"helper_share" json:"helper_share" doc:"each helper's size as a share of the memory (0.02)"`
	LeakStepMB     int     `yaml:"leak_step_mb" json:"leak_step_mb" doc:"the leaking process grows this many MiB at a time until the OOM killer acts (2)"`
	ImportantAdj   int     `yaml:"important_adj" json:"important_adj" doc:"oom_score_adj of the important process, -1000..1000: -1000 exempts it (0)"`
	LeakerAdj      int     `yaml:"leaker_adj" json:"leaker_adj" doc:"oom_score_adj of the leaking process, -1000..1000 (0)"`
	OOMGroup       bool    `yaml:"oom_group" json:"oom_group" doc:"with scope cgroup: the leaker and the helpers share a cgroup with memory.oom.group set, so the OOM killer takes all of them or none (false)"`
	Expect         string  `yaml:"expect" json:"expect" doc:"the process the OOM killer should take: leaker, important or helper; right_victim is the share of rounds in which it did (leaker)"`
	Rounds         int     `yaml:"rounds" json:"rounds" doc:"OOM events, each with fresh processes (quick 3, full 10)"`
}

// Validate checks the parameters.
func (p *OOMVictimParams) Validate() error {
	switch {
	case p.Scope != "cgroup" && p.Scope != "guest":
		return fmt.Errorf("scope: %q (want cgroup or guest)", p.Scope)
	case p.LimitMB < 32 || p.LimitMB > 64<<10:
		return fmt.Errorf("limit_mb: %d must be in 32..65536", p.LimitMB)
	case p.ImportantShare <= 0 || p.ImportantShare >= 0.9:
		return fmt.Errorf("important_share: %g must be in (0, 0.9)", p.ImportantShare)
	case p.Helpers < 0 || p.Helpers > 16:
		return fmt.Errorf("helpers: %d must be in 0..16", p.Helpers)
	case p.HelperShare < 0 || p.HelperShare > 0.1:
		return fmt.Errorf("helper_share: %g must be in 0..0.1", p.HelperShare)
	case p.ImportantShare+float64(p.Helpers)*p.HelperShare >= 0.9:
		return fmt.Errorf("important_share + helpers × helper_share = %g leaves the leaker too little room (at most 0.9)", p.ImportantShare+float64(p.Helpers)*p.HelperShare)
	case p.LeakStepMB < 1 || p.LeakStepMB > 1024:
		return fmt.Errorf("leak_step_mb: %d must be in 1..1024", p.LeakStepMB)
	case p.ImportantAdj < -1000 || p.ImportantAdj > 1000:
		return fmt.Errorf("important_adj: %d must be in -1000..1000", p.ImportantAdj)
	case p.LeakerAdj < -1000 || p.LeakerAdj > 1000:
		return fmt.Errorf("leaker_adj: %d must be in -1000..1000", p.LeakerAdj)
	case p.OOMGroup && p.Scope != "cgroup":
		return fmt.Errorf("oom_group: needs scope cgroup")
	case p.Expect != oomLeaker && p.Expect != oomImportant && p.Expect != oomHelper:
		return fmt.Errorf("expect: %q (want leaker, important or helper)", p.Expect)
	case p.Expect == oomHelper && p.Helpers == 0:
		return fmt.Errorf("expect: helper, with no helpers")
	case p.Rounds < 1 || p.Rounds > 100:
		return fmt.Errorf("rounds: %d must be in 1..100", p.Rounds)
	}
	return nil
}

func init() {
	register(def[OOMVictimParams]{
		Name:     "oom-victim",
		Measures: "which process the OOM killer takes when a leaking process exhausts a memory limit beside a large important process and small helpers, how long the kill takes, and the stall around it",
		Catches:  "OOM-killer heuristic and oom_score_adj changes, memory.oom.group behaviour, OOM stalls (\"the wrong process always gets killed\")",
		Needs:    func(p *OOMVictimParams) []string { return []string{NeedRoot, NeedCgroup2} },
		Defaults: func(profile string) *OOMVictimParams {
			p := &OOMVictimParams{Scope: "cgroup", LimitMB: 128, ImportantShare: 0.5, Helpers: 2, HelperShare: 0.02, LeakStepMB: 2, Expect: oomLeaker, Rounds: 3}
			if profile == Full {
				p.Rounds = 10
			}
			return p
		},
		Run: runOOMVictim,
	})
}

// oomRound is one OOM event.
type oomRound struct {
	killed  map[string]int // role -> processes the OOM killer took
	latency int64          // ns from the limit being hit to the first kill; -1 unknown
	stall   memsys.Pressure
	freed   int64 // bytes: usage at the limit minus usage after the kill
	oomKill int64 // the kernel's count of OOM kills in the round
}

func runOOMVictim(ctx context.Context, env Env, p *OOMVictimParams, r *results.Scenario) (*results.Scenario, error) {
	if err := memsys.MountCgroup2(); err != nil {
		return nil, err
	}
	// kvet's own scenario process is never the victim.
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0); err != nil {
		return nil, fmt.Errorf("oom_score_adj: %w", err)
	}
	memory := int64(p.LimitMB) << 20
	if p.Scope == "guest" {
		total, err := memTotal()
		if err != nil {
			return nil, err
		}
		memory = total
		if s, err := memsys.Read("/proc/swaps"); err == nil && strings.Count(s, "\n") > 0 {
			r.Notes = append(r.Notes, "swap is on: the guest's OOM comes after it fills")
		}
	}
	r.Notes = append(r.Notes, fmt.Sprintf("memory %d MiB (%s), important %d MiB, %d helpers of %d MiB", memory>>20, p.Scope,
		int64(float64(memory)*p.ImportantShare)>>20, p.Helpers, int64(float64(memory)*p.HelperShare)>>20))
	var rounds []oomRound
	for i := 0; i < p.Rounds; i++ {
		rd, err := oomOnce(ctx, p, memory)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", i+1, err)
		}
		rounds = append(rounds, rd)
	}
	r.Metrics = oomMetrics(rounds, p.Expect)
	return r, nil
}

func memTotal() (int64, error) {
	mi, err := memsys.Meminfo()
	return mi["MemTotal"], err
}

// oomOnce runs one OOM event: the important process and the helpers fill
// their memory, then the leaker grows until the OOM killer acts.
func oomOnce(ctx context.Context, p *OOMVictimParams, memory int64) (oomRound, error) {
	rd := oomRound{killed: map[string]int{}, latency: -1}
	top, err := memsys.NewCgroup(nil, "kvet-oom-victim")
	if err != nil {
		return rd, err
	}
	defer top.Remove()
	if p.Scope == "cgroup" {
		if err := top.Set("memory.max", strconv.FormatInt(memory, 10)); err != nil {
			return rd, err
		}
		// No swap for the group (without swap accounting the file is
		// absent, and there is nothing to turn off).
		if _, err := os.Stat(filepath.Join(top.Path, "memory.swap.max")); err == nil {
			if err := top.Set("memory.swap.max", "0"); err != nil {
				return rd, err
			}
		}
	}
	imp, err := memsys.NewCgroup(top, "important")
	if err != nil {
		return rd, err
	}
	workers, err := memsys.NewCgroup(top, "workers")
	if err != nil {
		return rd, err
	}
	if p.OOMGroup {
		if err := workers.Set("memory.oom.group", "1"); err != nil {
			return rd, err
		}
	}
	mb := func(share float64) string { return strconv.FormatInt(max(1, int64(float64(memory)*share)>>20), 10) }
	var procs []*memsys.Role
	defer func() {
		for _, pr := range procs {
			pr.Stop(0)
		}
	}()
	start := func(cg *memsys.Cgroup, name string, args ...string) (*memsys.Role, error) {
		pr, err := memsys.StartRole(cg, name, args...)
		if err == nil {
			procs = append(procs, pr)
		}
		return pr, err
	}
	if _, err := start(imp, oomImportant, memsys.RoleHold, mb(p.ImportantShare), strconv.Itoa(p.ImportantAdj)); err != nil {
		return rd, err
	}
	for i := 0; i < p.Helpers; i++ {
		if _, err := start(workers, oomHelper, memsys.RoleHold, mb(p.HelperShare), "0"); err != nil {
			return rd, err
		}
	}
	for _, pr := range procs {
		if l, err := pr.Line(5 * time.Minute); err != nil || l != "ready" {
			return rd, fmt.Errorf("%s: %q, %v", pr.Name, l, err)
		}
	}
	hit := limitWatch(top, p.Scope)
	k0 := oomKills(top, p.Scope)
	psi0, _ := oomPressure(top, p.Scope)
	leaker, err := start(workers, oomLeaker, memsys.RoleLeak, strconv.Itoa(p.LeakStepMB), strconv.Itoa(p.LeakerAdj))
	if err != nil {
		return rd, err
	}
	go func() { // the leaker's progress lines are not read: drain them
		for {
			if _, err := leaker.Line(time.Hour); err != nil {
				return
			}
		}
	}()

	// Wait for the first death, noting when the limit was first hit.
	var hitAt, usageAtHit int64 = -1, -1
	var first *memsys.Role
	deadline := time.Now().Add(5 * time.Minute)
	for first == nil {
		if hitAt < 0 && hit() {
			hitAt, usageAtHit = measure.Now(), usage(top, p.Scope)
		}
		for _, pr := range procs {
			select {
			case <-pr.Exited:
				if first == nil || pr.At < first.At {
					first = pr
				}
			default:
			}
		}
		if first != nil {
			break
		}
		if time.Now().After(deadline) {
			return rd, fmt.Errorf("no process died in 5 minutes (memory %d MiB)", memory>>20)
		}
		select {
		case <-ctx.Done():
			return rd, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	if !first.Killed() {
		return rd, fmt.Errorf("%s exited without being killed: %v", first.Name, first.ExitErr)
	}
	// A group kill takes the others within moments.
	time.Sleep(300 * time.Millisecond)
	psi1, perr := oomPressure(top, p.Scope)
	for _, pr := range procs {
		if pr.Killed() {
			rd.killed[pr.Name]++
		}
	}
	if hitAt >= 0 {
		rd.latency = max(0, first.At-hitAt)
		rd.freed = usageAtHit - usage(top, p.Scope)
	}
	if perr == nil {
		rd.stall = psi1.Sub(psi0)
	} else {
		rd.stall = memsys.Pressure{Some: -1}
	}
	rd.oomKill = oomKills(top, p.Scope) - k0
	return rd, nil
}

// limitWatch returns a test of whether memory ran out since the call:
// the group's memory.events "max" (usage was about to exceed memory.max),
// or for the guest the start of direct reclaim (allocstall in /proc/vmstat).
func limitWatch(top *memsys.Cgroup, scope string) func() bool {
	if scope == "cgroup" {
		return func() bool {
			ev, err := top.Keyed("memory.events")
			return err == nil && ev["max"] > 0
		}
	}
	stalls := func() int64 {
		vm, err := memsys.Vmstat()
		if err != nil {
			return 0
		}
		var n int64
		for k, v := range vm {
			if strings.HasPrefix(k, "allocstall") {
				n += v
			}
		}
		return n
	}
	s0 := stalls()
	return func() bool { return stalls() > s0 }
}

func oomKills(top *memsys.Cgroup, scope string) int64 {
	if scope == "cgroup" {
		ev, _ := top.Keyed("memory.events")
		return ev["oom_kill"]
	}
	vm, _ := memsys.Vmstat()
	return vm["oom_kill"]
}

func oomPressure(top *memsys.Cgroup, scope string) (memsys.Pressure, error) {
	if scope == "cgroup" {
		return top.Pressure()
	}
	return memsys.ReadPressure(memsys.PSIPath)
}

// usage is the memory in use: the group's, or the guest's (all but what
// the kernel counts as available).
func usage(top *memsys.Cgroup, scope string) int64 {
	if scope == "cgroup" {
		n, _ := top.Int("memory.current")
		return n
	}
	mi, _ := memsys.Meminfo()
	return mi["MemTotal"] - mi["MemAvailable"]
}

func oomMetrics(rounds []oomRound, expect string) []results.Metric {
	n := int64(len(rounds))
	var right int64
	killed := map[string]int64{}
	var lat, freed, stallFull []float64
	var kills int64
	for _, rd := range rounds {
		// Right: the expected victim was taken, and nothing else that was
		// not in its group.
		if rd.killed[expect] > 0 && (expect == oomImportant) == (rd.killed[oomImportant] > 0) {
			right++
		}
		for k, v := range rd.killed {
			killed[k] += int64(v)
		}
		if rd.latency >= 0 {
			lat = append(lat, float64(rd.latency))
			freed = append(freed, float64(rd.freed))
			if rd.stall.Some >= 0 && rd.latency > 0 {
				stallFull = append(stallFull, min(1, float64(rd.stall.Full*1000)/float64(rd.latency)))
			}
		}
		kills += rd.oomKill
	}
	ms := []results.Metric{
		{Name: "right_victim", Unit: "ratio", Better: results.HigherIsBetter, Value: float64(right) / float64(n), Samples: n, Fraction: true, Primary: true},
		{Name: "killed.important", Unit: "count", Better: results.LowerIsBetter, Value: float64(killed[oomImportant]), Samples: n},
		{Name: "killed.leaker", Unit: "count", Better: results.Info, Value: float64(killed[oomLeaker]), Samples: n},
		{Name: "killed.helpers", Unit: "count", Better: results.LowerIsBetter, Value: float64(killed[oomHelper]), Samples: n},
		{Name: "oom_kills", Unit: "count", Better: results.Info, Value: float64(kills), Samples: n},
	}
	if len(lat) > 0 {
		ln := int64(len(lat))
		ms = append(ms,
			results.Metric{Name: "kill_latency", Unit: "ns", Better: results.LowerIsBetter, Value: tcpMedian(lat), Samples: ln, Quantile: 50, Timing: true, Primary: true},
			results.Metric{Name: "freed", Unit: "bytes", Better: results.Info, Value: tcpMedian(freed), Samples: ln})
		if len(stallFull) > 0 {
			ms = append(ms, results.Metric{Name: "stall_full", Unit: "ratio", Better: results.LowerIsBetter, Value: tcpMedian(stallFull), Samples: int64(len(stallFull)), Timing: true})
		}
	}
	return ms
}
