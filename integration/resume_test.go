package integration

import (
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// TestResumeKeepsPool: a run recorded with --parallel 1, killed after its
// first boot and resumed without --parallel, runs its remaining boots one
// at a time as recorded, never two guests at once. Its guests have one vCPU
// each, so that on a host of two CPUs or more the default would be two.
func TestResumeKeepsPool(t *testing.T) {
	need(t)
	m := threeNames(t, 2)
	root := filepath.Dir(t.TempDir())
	out := filepath.Join(t.TempDir(), "one-at-a-time")
	killAfterBoots(t, root, []string{"run", m, "--out", out, "--parallel", "1", "--cpus", "1", "--seed", "7", "--fail-on", "none", "--quiet"}, 1, syscall.SIGKILL)
	if r := kvet(t, 20*time.Minute, "run", "--resume", out, "--fail-on", "none", "--quiet"); r.code != 0 {
		t.Fatalf("kvet run --resume = exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	run, boots := readRun(t, out)
	checkComplete(t, "resumed run", run, boots)
	if run.Parallel != 1 {
		t.Errorf("run.json parallel = %d, want 1", run.Parallel)
	}
	sort.Slice(boots, func(i, j int) bool { return boots[i].Started.Before(boots[j].Started) })
	for i := 1; i < len(boots); i++ {
		prev, b := boots[i-1], boots[i]
		if end := prev.Started.Add(prev.Wall); b.Started.Before(end) {
			t.Errorf("boot %s#%d started at %s, before boot %s#%d ended at %s: two guests at once", b.Kernel, b.Index, b.Started.Format(time.StampMilli), prev.Kernel, prev.Index, end.Format(time.StampMilli))
		}
	}
}
