package results

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestCompareSkipsTracedBoots: a traced boot ran under the tracer; its
// values, however far off, never reach a comparison, and its faults are
// not the kernel's verdict.
func TestCompareSkipsTracedBoots(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := lognormal("x.p50", 100, 0.01)
	boots := append(bootsOf("base", 6, 0, r, gen), bootsOf("cand", 6, 1, r, gen)...)
	plain := Compare("base", boots, CompareOptions{})
	// Traced boots of the candidate: ten times slower, and one panicked.
	slow := func(r *rand.Rand) Metric { m := gen(r); m.Value *= 10; return m }
	traced := bootsOf("cand", 6, 20, r, slow)
	traced[0].Outcome, traced[0].Scenarios = KernelPanic, nil
	traced = append(traced, bootsOf("other", 3, 40, r, gen)...)
	for _, b := range traced {
		b.Traced = true
	}
	c := Compare("base", append(boots, traced...), CompareOptions{})
	if len(c.Kernels) != 1 || c.Kernels[0].Kernel != "cand" {
		t.Fatalf("compared kernels %d, want cand only (a kernel seen only in traced boots is no kernel of the comparison)", len(c.Kernels))
	}
	k, want := c.Kernels[0], plain.Kernels[0]
	if k.Boots != want.Boots || len(k.Faults) != 0 {
		t.Errorf("boots %+v, faults %v; want %+v and none: traced boots counted", k.Boots, k.Faults, want.Boots)
	}
	got, w := find(t, k, "s/x.p50"), find(t, want, "s/x.p50")
	if len(got.Cand) != 6 || got.Verdict != w.Verdict || got.P != w.P {
		t.Errorf("s/x.p50: %d values, %s, p %g; want %d, %s, p %g as without the traced boots", len(got.Cand), got.Verdict, got.P, len(w.Cand), w.Verdict, w.P)
	}
}

// TestTracedBootsKeptApart: a traced boot is written among the traces, not
// the boots; Boots never returns it, TracedBoots does, and the plan entry
// of each kind is found by its own file.
func TestTracedBootsKeptApart(t *testing.T) {
	d, err := CreateDir(filepath.Join(t.TempDir(), "run"), &Run{ID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteBoot(&Boot{Kernel: "6.12", Index: 0, Seq: 0, Outcome: OK}); err != nil {
		t.Fatal(err)
	}
	tb := &Boot{Kernel: "6.12", Index: 0, Seq: 9, Outcome: OK, Traced: true,
		Traces: []TraceFile{{Scenario: "nagle", File: TraceFileName("6.12", 0, "nagle"), Bytes: 100, Events: 2}}}
	if err := d.WriteBoot(tb); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Path, "traces", "6.12.000.json")); err != nil {
		t.Errorf("traced boot not in traces/: %v", err)
	}
	if err := d.WriteBoot(tb); err == nil {
		t.Errorf("a traced boot was written twice")
	}
	boots, err := d.Boots()
	if err != nil || len(boots) != 1 || boots[0].Traced {
		t.Errorf("Boots = %d boots (%v), want the measurement boot only", len(boots), err)
	}
	traced, err := d.TracedBoots()
	if err != nil || len(traced) != 1 || !traced[0].Traced || traced[0].Traces[0].File != "traces/6.12.000.nagle.trace.gz" {
		t.Errorf("TracedBoots = %+v (%v), want the traced boot with its trace", traced, err)
	}
	if !d.Has(PlanEntry{Kernel: "6.12", Index: 0, Trace: true}) || d.Has(PlanEntry{Kernel: "6.12", Index: 1, Trace: true}) || !d.HasBoot("6.12", 0) {
		t.Errorf("Has does not tell traced from measurement boots")
	}
	if got := (PlanEntry{Kernel: "a/b", Index: 2, Trace: true}).Console(); got != "traces/a_b.002.log" {
		t.Errorf("traced console = %s", got)
	}
}

// TestMergeCarriesTraces: a shard's traced boot comes into the merged run
// with its trace file.
func TestMergeCarriesTraces(t *testing.T) {
	run := Run{ID: "r1", Seed: 3, Boots: 1, Kernels: []Kernel{{Name: "a"}}, Plan: []PlanEntry{{Seq: 0, Kernel: "a"}}}
	s1, s2 := run, run
	s1.Shard, s2.Shard = "1/2", "2/2"
	trace := TraceFileName("a", 0, "nagle")
	d1 := shardDir(t, s1, Boot{Kernel: "a", Index: 0, Seq: 0, Outcome: OK})
	d2 := shardDir(t, s2, Boot{Kernel: "a", Index: 0, Seq: 1, Outcome: OK, Traced: true, Traces: []TraceFile{{Scenario: "nagle", File: trace}}})
	if err := os.WriteFile(filepath.Join(d2, trace), []byte("gz"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(out, []string{d1, d2}); err != nil {
		t.Fatal(err)
	}
	d, _, err := OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	boots, _ := d.Boots()
	traced, _ := d.TracedBoots()
	if len(boots) != 1 || len(traced) != 1 {
		t.Errorf("merged %d boots and %d traced boots, want 1 and 1", len(boots), len(traced))
	}
	if b, err := os.ReadFile(filepath.Join(out, trace)); err != nil || string(b) != "gz" {
		t.Errorf("merged trace = %q, %v", b, err)
	}
}
