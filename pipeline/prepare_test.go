package pipeline

import (
	"testing"

	"github.com/kvet/kvet/internal/matrix"
)

// TestScratchDisk: a boot carries the largest scratch disk any scenario of
// the matrix asks for, and none when no scenario needs one.
func TestScratchDisk(t *testing.T) {
	const kernels = "kernels:\n  - {name: a, deb: a.deb}\n"
	tests := []struct {
		name, scenarios string
		want            int
	}{
		{"swap on disk and a larger file", `
  - {name: swap-in, params: {swap: disk, swap_mb: 300}}
  - {name: swap-in, label: swap-in-cache, params: {batch_file_mb: 500}}
`, 516},
		{"the larger first", `
  - {name: swap-in, label: swap-in-cache, params: {batch_file_mb: 500}}
  - {name: swap-in, params: {swap: disk, swap_mb: 300}}
`, 516},
		{"swap on disk only", `
  - timer
  - {name: swap-in, params: {swap: disk, swap_mb: 300, batch_file_mb: 0}}
`, 316},
		{"zram and no file", `
  - {name: swap-in, params: {batch_file_mb: 0}}
`, 0},
		{"no memory scenario", `
  - timer
  - pipe
`, 0},
	}
	for _, tt := range tests {
		m, err := matrix.Parse("m.yaml", []byte(kernels+"scenarios:"+tt.scenarios))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := scratchDisk(m); got != tt.want {
			t.Errorf("%s: scratchDisk = %d MiB, want %d", tt.name, got, tt.want)
		}
	}
}
