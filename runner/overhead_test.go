package runner

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// BenchmarkBootOverhead boots the real agent with an empty plan through a
// Pool that records every boot, and reports the host-side time per boot
// (QEMU start-up to cont, teardown after the power-off, the result write)
// as a fraction of the boot's wall time. The runner's budget is 5%.
//
//	KVET_TEST_DEB=linux-image-6.12...-cloud-amd64.deb go test ./runner -run - -bench BootOverhead -benchtime 4x
func BenchmarkBootOverhead(b *testing.B) {
	k, builder := testKernel(b)
	initrd := buildImage(b, builder, k, kvetBinary(b))
	dir, err := results.CreateDir(filepath.Join(b.TempDir(), "run"), &results.Run{ID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	host, err := HostCPUs()
	if err != nil {
		b.Fatal(err)
	}
	sets := CPUSets(host, 1, 1)
	// Pinned as kvet run --isolate pins: the vCPU on a CPU of its own,
	// QEMU's other threads on the rest.
	p := &Pool{Parallel: 1, Dir: dir, CPUSets: sets, SpareCPUs: SpareCPUs(host, sets),
		Launch: func(ctx context.Context, e results.PlanEntry, attempt int, slot Slot) *results.Boot {
			return Boot(ctx, BootSpec{
				Kernel: k.Vmlinuz, Initrd: initrd, Accel: "tcg", CPUs: 1, MemoryMB: 512,
				Timeout: 3 * time.Minute, HostCPUs: slot.CPUs, EmulatorCPUs: slot.Emulator, WorkDir: b.TempDir(),
				ConsolePath: filepath.Join(dir.Path, results.ConsoleFile(e.Kernel, e.Index)),
				Plan:        wire.Plan{Seed: 1, Profile: "quick"}, Logger: testLogger(b),
			})
		},
		OnEvent: func(ev Event) {
			if ev.Kind == "end" {
				b.Logf("boot %d: %s, wall %v, host overhead %v", ev.Entry.Index, ev.Outcome, ev.Wall, ev.Overhead)
			}
		},
	}
	b.ResetTimer()
	sum, err := p.Run(context.Background(), PlanBoots([]string{"k"}, b.N, 1))
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if sum.Failed > 0 {
		b.Fatalf("%d of %d boots failed", sum.Failed, sum.Ran)
	}
	ratio := float64(sum.Overhead) / float64(sum.Wall)
	b.ReportMetric(ratio*100, "%overhead")
	b.ReportMetric(float64(sum.Overhead.Milliseconds())/float64(sum.Ran), "overhead-ms/boot")
	b.ReportMetric(float64(sum.Wall.Milliseconds())/float64(sum.Ran), "wall-ms/boot")
	if ratio > 0.05 {
		b.Errorf("host overhead is %.1f%% of the boots' wall time, want at most 5%%", ratio*100)
	}
}
