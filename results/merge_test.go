package results

import (
	"path/filepath"
	"strings"
	"testing"
)

func shardDir(t *testing.T, run Run, boots ...Boot) string {
	t.Helper()
	p := t.TempDir()
	d, err := CreateDir(p, &run)
	if err != nil {
		t.Fatal(err)
	}
	for i := range boots {
		if err := d.WriteBoot(&boots[i]); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestMerge(t *testing.T) {
	run := Run{ID: "r1", Seed: 3, Boots: 2, Kernels: []Kernel{{Name: "a"}, {Name: "b"}},
		Plan: []PlanEntry{{Seq: 0, Kernel: "a"}, {Seq: 1, Kernel: "b"}, {Seq: 2, Kernel: "b", Index: 1}, {Seq: 3, Kernel: "a", Index: 1}}}
	s1, s2 := run, run
	s1.Shard, s2.Shard = "1/2", "2/2"
	d1 := shardDir(t, s1, Boot{Kernel: "a", Index: 0, Seq: 0, Outcome: OK}, Boot{Kernel: "b", Index: 1, Seq: 2, Outcome: OK})
	d2 := shardDir(t, s2, Boot{Kernel: "b", Index: 0, Seq: 1, Outcome: OK}, Boot{Kernel: "a", Index: 1, Seq: 3, Outcome: Hang})
	out := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(out, []string{d1, d2}); err != nil {
		t.Fatal(err)
	}
	d, got, err := OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Shard != "" {
		t.Errorf("merged Shard = %q, want empty", got.Shard)
	}
	boots, _ := d.Boots()
	if len(boots) != 4 {
		t.Fatalf("merged %d boots, want 4", len(boots))
	}
	for i, b := range boots {
		if b.Seq != i {
			t.Errorf("boot %d has Seq %d", i, b.Seq)
		}
	}
}

func TestMergeRefusesInconsistentShards(t *testing.T) {
	base := Run{ID: "r1", Seed: 3, Kernels: []Kernel{{Name: "a"}}}
	other := base
	other.Kernels = []Kernel{{Name: "a", SHA256: "ff"}}
	seed := base
	seed.Seed = 4
	dup := shardDir(t, base, Boot{Kernel: "a", Index: 0})
	tests := []struct {
		name   string
		shards []string
		want   string
	}{
		{"kernels differ", []string{shardDir(t, base), shardDir(t, other)}, "kernels differ"},
		{"plans differ", []string{shardDir(t, base), shardDir(t, seed)}, "plans differ"},
		{"duplicate boot", []string{dup, shardDir(t, base, Boot{Kernel: "a", Index: 0})}, "is in both"},
		{"not a run", []string{t.TempDir()}, "not a kvet run directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m")
			_, err := Merge(out, tt.shards)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Merge = %v, want error containing %q", err, tt.want)
			}
			if _, _, err := OpenDir(out); err == nil {
				t.Errorf("Merge wrote %s despite the error", out)
			}
		})
	}
}
