package results

import (
	"fmt"
	"math"
	"sort"

	"github.com/aclements/go-moremath/stats"
)

// Adaptive rounds: after each round of boots the run looks at what it has,
// and boots again only the kernels whose primary metrics are undecided.
// Looking more than once at data that keeps growing would spend alpha at
// every look; here each kernel spends it by Lan-DeMets' O'Brien-Fleming-like
// function of the information so far (its boots over the most it may get),
// and the comparison at a look is made at that look's increment. The
// increments of one kernel sum to Alpha at most, so the chance of any false
// claim about it over all its looks stays at most Alpha (a union bound:
// valid however the looks are correlated, and conservative; the exact
// group-sequential boundaries would let the last look spend a little more).
// Early looks spend almost nothing: only a large change is decided after
// the first round, and the last look keeps most of Alpha.

// SequentialOptions tunes NextLook. The zero value works.
type SequentialOptions struct {
	// Compare is passed to Compare at every look; its Alpha is the error
	// rate across all looks (default 0.05).
	Compare CompareOptions
	// MaxBoots is the most OK boots a kernel gets (default 10): the
	// information fraction of a look is its boots over MaxBoots, and a kernel
	// that has them is not booted again.
	MaxBoots int
}

// Look is one analysis of an adaptive run, to be recorded in the run (see
// SCHEMA.md) and given back to NextLook with the looks before it.
type Look struct {
	// Number counts the looks from 1.
	Number  int          `json:"look"`
	Kernels []KernelLook `json:"kernels"`
}

// KernelLook is one candidate kernel at one look.
type KernelLook struct {
	Kernel string `json:"kernel"`
	// Boots and BaseBoots are the OK boots of the kernel and of its baseline.
	Boots     int `json:"boots"`
	BaseBoots int `json:"base_boots"`
	// Information is min(Boots, BaseBoots) / MaxBoots, at most 1.
	Information float64 `json:"information"`
	// Alpha is the level this look's comparison of the kernel used: the
	// alpha spent at this look; Spent is the total spent up to it.
	Alpha float64 `json:"alpha"`
	Spent float64 `json:"spent"`
	// Decided is true when no primary metric of the kernel is inconclusive
	// (then, or at an earlier look: a decided kernel stays decided and
	// spends nothing more). Undecided lists the inconclusive ones.
	Decided   bool     `json:"decided"`
	Undecided []string `json:"undecided,omitempty"`
	// DecidedAt is the look whose comparison holds the kernel's verdicts:
	// the one at which it was decided, else this one.
	DecidedAt int `json:"decided_at"`
	// More says whether another round of this kernel is worth it: it is
	// undecided and has fewer than MaxBoots boots. Reason says why not.
	More   bool   `json:"more"`
	Reason string `json:"reason,omitempty"`
}

// SpendOBF is Lan-DeMets' O'Brien-Fleming-like spending function: the
// alpha spent once the information fraction t (0..1) is in,
// 2 - 2 Phi(z(1-alpha/2) / sqrt(t)).
func SpendOBF(alpha, t float64) float64 {
	if t <= 0 {
		return 0
	}
	if t >= 1 {
		return alpha
	}
	z := stats.StdNormal.InvCDF(1 - alpha/2)
	return 2 - 2*stats.StdNormal.CDF(z/math.Sqrt(t))
}

// NextLook analyses the boots so far as look len(prev)+1: each undecided
// kernel is compared with the baseline at its share of alpha for this look,
// and the look says per kernel whether it is decided and whether another
// round is worth it. The comparison returned holds this look's verdicts for
// the kernels analysed now; a kernel decided earlier keeps the verdicts of
// the comparison of its DecidedAt look, which the caller keeps (Look does
// not repeat them). prev must be the looks NextLook returned before, in
// order; the boots are all the run's boots so far.
func NextLook(baseline string, boots []*Boot, prev []Look, opt SequentialOptions) (Look, *Comparison) {
	alpha := opt.Compare.Alpha
	if alpha <= 0 || alpha >= 1 {
		alpha = 0.05
	}
	if opt.MaxBoots < 2 {
		opt.MaxBoots = 10
	}
	last := map[string]KernelLook{}
	if len(prev) > 0 {
		for _, k := range prev[len(prev)-1].Kernels {
			last[k.Kernel] = k
		}
	}
	ok := map[string]int{}
	var order []string
	for _, b := range boots {
		if _, seen := ok[b.Kernel]; !seen {
			order = append(order, b.Kernel)
			ok[b.Kernel] = 0
		}
		if b.Outcome == OK {
			ok[b.Kernel]++
		}
	}
	look := Look{Number: len(prev) + 1}
	var open []*Boot // the boots of the kernels still undecided, and the baseline's
	undecided := map[string]bool{}
	for _, name := range order {
		if name == baseline {
			continue
		}
		k := KernelLook{Kernel: name, Boots: ok[name], BaseBoots: ok[baseline]}
		k.Information = math.Min(1, float64(min(k.Boots, k.BaseBoots))/float64(opt.MaxBoots))
		before, seen := last[name]
		if seen && before.Decided {
			k.Decided, k.DecidedAt, k.Spent = true, before.DecidedAt, before.Spent
			k.Reason = fmt.Sprintf("decided at look %d", before.DecidedAt)
			look.Kernels = append(look.Kernels, k)
			continue
		}
		spend := SpendOBF(alpha, k.Information)
		if k.Information >= 1 {
			spend = alpha // the last look spends what is left
		}
		k.Spent = math.Max(spend, before.Spent)
		k.Alpha = k.Spent - before.Spent
		undecided[name] = true
		look.Kernels = append(look.Kernels, k)
	}
	for _, b := range boots {
		if b.Kernel == baseline || undecided[b.Kernel] {
			open = append(open, b)
		}
	}
	out := &Comparison{Schema: ComparisonSchema, Baseline: baseline, Alpha: alpha}
	for i := range look.Kernels {
		k := &look.Kernels[i]
		if k.Decided {
			continue
		}
		k.DecidedAt = look.Number
		var kb []*Boot
		for _, b := range open {
			if b.Kernel == baseline || b.Kernel == k.Kernel {
				kb = append(kb, b)
			}
		}
		copt := opt.Compare
		copt.Alpha = k.Alpha
		var kr *KernelResult
		if k.Alpha > 0 {
			c := Compare(baseline, kb, copt)
			if len(c.Kernels) > 0 {
				kr = &c.Kernels[0]
				out.Kernels = append(out.Kernels, *kr)
				out.BaselineBoots, out.BaselineAccel = c.BaselineBoots, c.BaselineAccel
				out.Notes = appendNew(out.Notes, c.Notes...)
			}
		}
		if kr != nil {
			for _, m := range kr.Metrics {
				if m.Primary && m.Verdict == Inconclusive {
					k.Undecided = append(k.Undecided, m.Key)
				}
			}
		}
		sort.Strings(k.Undecided)
		k.Decided = kr != nil && len(k.Undecided) == 0
		switch {
		case k.Decided:
			k.Reason = "every primary metric decided"
		case k.Boots >= opt.MaxBoots:
			k.Reason = fmt.Sprintf("undecided at %d boots, the most it gets", k.Boots)
		case kr == nil && k.Alpha == 0 && k.Information > 0:
			k.More, k.Reason = true, "no new boots since the last look"
		case kr == nil:
			k.More, k.Reason = true, "nothing to compare yet"
		default:
			k.More = true
		}
	}
	return look, out
}

// Final puts together the verdicts of an adaptive run: each kernel of the
// last look with its KernelResult from the comparison of its DecidedAt look.
// comparisons[i] is what NextLook returned with looks[i].
func Final(looks []Look, comparisons []*Comparison) *Comparison {
	if len(looks) == 0 || len(looks) != len(comparisons) {
		return nil
	}
	last := comparisons[len(comparisons)-1]
	out := &Comparison{Schema: ComparisonSchema, Baseline: last.Baseline, Alpha: last.Alpha}
	for _, k := range looks[len(looks)-1].Kernels {
		at := k.DecidedAt
		if at < 1 || at > len(comparisons) {
			continue
		}
		c := comparisons[at-1]
		for _, kr := range c.Kernels {
			if kr.Kernel == k.Kernel {
				kr.Look, kr.Alpha = at, looks[at-1].kernel(k.Kernel).Alpha
				if kr.BaseBoots == nil && c != last {
					base := c.BaselineBoots // the baseline's boots at that look
					kr.BaseBoots = &base
				}
				out.Kernels = append(out.Kernels, kr)
			}
		}
		out.Notes = appendNew(out.Notes, c.Notes...)
	}
	out.BaselineBoots, out.BaselineAccel = last.BaselineBoots, last.BaselineAccel
	return out
}

func (l Look) kernel(name string) KernelLook {
	for _, k := range l.Kernels {
		if k.Kernel == name {
			return k
		}
	}
	return KernelLook{}
}

func appendNew(s []string, add ...string) []string {
	for _, a := range add {
		found := false
		for _, x := range s {
			found = found || x == a
		}
		if !found {
			s = append(s, a)
		}
	}
	return s
}
