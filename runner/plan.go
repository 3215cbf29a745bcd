package runner

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/kvet/kvet/results"
)

// PlanBoots orders boots kernels x repeats in balanced, interleaved rounds:
// each pair of rounds visits the kernels in a seeded random order and then
// in the reverse order (A B C C B A ...), so a drift of the host over time
// weighs on every kernel alike. The same seed gives the same plan.
func PlanBoots(kernels []string, repeats int, seed int64) []results.PlanEntry {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6b766574))
	var plan []results.PlanEntry
	var order []int
	for r := 0; r < repeats; r++ {
		if r%2 == 0 {
			order = rng.Perm(len(kernels))
		} else {
			slices.Reverse(order)
		}
		for _, k := range order {
			plan = append(plan, results.PlanEntry{Seq: len(plan), Kernel: kernels[k], Index: r})
		}
	}
	return plan
}

// PlanTraces plans one traced boot per kernel (see results.Boot.Traced),
// after a plan of seq0 entries: they never take a measurement boot's place.
func PlanTraces(kernels []string, seq0 int) []results.PlanEntry {
	var plan []results.PlanEntry
	for i, k := range kernels {
		plan = append(plan, results.PlanEntry{Seq: seq0 + i, Kernel: k, Trace: true})
	}
	return plan
}

// Shard is a deterministic share of a plan: shard I of N (1-based).
type Shard struct{ I, N int }

// ParseShard reads "I/N".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 1 <= I <= N", s)
	}
	return Shard{I: i, N: n}, nil
}

func (s Shard) String() string {
	if s.N == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Select returns the entries of plan that belong to the shard: every N-th
// entry starting at I-1, so each shard keeps the plan's interleaving. The
// zero Shard selects everything.
func (s Shard) Select(plan []results.PlanEntry) []results.PlanEntry {
	if s.N <= 1 {
		return plan
	}
	var out []results.PlanEntry
	for _, e := range plan {
		if e.Seq%s.N == s.I-1 {
			out = append(out, e)
		}
	}
	return out
}
