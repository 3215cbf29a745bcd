package runner

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kvet/kvet/results"
)

func TestPlanBootsBalancedAndComplete(t *testing.T) {
	ks := []string{"a", "b", "c"}
	plan := PlanBoots(ks, 6, 42)
	if len(plan) != 18 {
		t.Fatalf("PlanBoots = %d entries, want 18", len(plan))
	}
	seen := map[string]bool{}
	for i, e := range plan {
		if e.Seq != i {
			t.Errorf("entry %d has Seq %d", i, e.Seq)
		}
		key := results.BootKey(e.Kernel, e.Index)
		if seen[key] {
			t.Errorf("boot %s planned twice", key)
		}
		seen[key] = true
	}
	// Each pair of rounds is a palindrome: A B C C B A.
	for r := 0; r+1 < 6; r += 2 {
		for j := 0; j < 3; j++ {
			if x, y := plan[r*3+j].Kernel, plan[r*3+5-j].Kernel; x != y {
				t.Errorf("rounds %d-%d not mirrored: %v", r, r+1, plan[r*3:r*3+6])
			}
		}
	}
	// Balance: every kernel's mean position is the same in each pair of rounds.
	pos := map[string]int{}
	for _, e := range plan {
		pos[e.Kernel] += e.Seq
	}
	if pos["a"] != pos["b"] || pos["b"] != pos["c"] {
		t.Errorf("positions not balanced: %v", pos)
	}
}

func TestPlanBootsDeterministic(t *testing.T) {
	a := fmt.Sprint(PlanBoots([]string{"x", "y", "z", "w"}, 4, 7))
	b := fmt.Sprint(PlanBoots([]string{"x", "y", "z", "w"}, 4, 7))
	c := fmt.Sprint(PlanBoots([]string{"x", "y", "z", "w"}, 4, 8))
	if a != b {
		t.Errorf("same seed, different plans:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds gave the same plan %s", a)
	}
}

func TestShardsDisjointAndComplete(t *testing.T) {
	plan := PlanBoots([]string{"a", "b", "c"}, 6, 1)
	for n := 1; n <= 5; n++ {
		count := map[int]int{}
		for i := 1; i <= n; i++ {
			s, err := ParseShard(fmt.Sprintf("%d/%d", i, n))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range s.Select(plan) {
				count[e.Seq]++
			}
		}
		for _, e := range plan {
			if count[e.Seq] != 1 {
				t.Errorf("N=%d: boot %d in %d shards, want 1", n, e.Seq, count[e.Seq])
			}
		}
	}
}

func TestParseShardErrors(t *testing.T) {
	for _, s := range []string{"", "1", "0/3", "4/3", "a/b", "1/0", "-1/2"} {
		if _, err := ParseShard(s); err == nil {
			t.Errorf("ParseShard(%q) = nil error, want one", s)
		}
	}
}

func TestPlanTraces(t *testing.T) {
	got := PlanTraces([]string{"a", "b"}, 6)
	want := []results.PlanEntry{{Seq: 6, Kernel: "a", Trace: true}, {Seq: 7, Kernel: "b", Trace: true}}
	if !slices.Equal(got, want) {
		t.Errorf("PlanTraces = %+v, want %+v", got, want)
	}
}
