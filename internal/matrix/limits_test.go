package matrix

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func kernelsYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("kernels:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: k%d\n    package: linux-image-6.12.%d+deb12-cloud-amd64\n", i, i)
	}
	return []byte(b.String())
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"too many kernels", string(kernelsYAML(MaxKernels + 1)), fmt.Sprintf("m.yaml:1: %d kernels: at most %d", MaxKernels+1, MaxKernels)},
		{"too large", string(kernelsYAML(1)) + "# " + strings.Repeat("x", MaxMatrixBytes), "bytes: a matrix file is at most"},
		{"boots 0", "boots: 0\nkernels: [{name: a, deb: a.deb}]\n", "m.yaml:1: boots: 0 is out of range 1..1000"},
		{"cpus 0", "cpus: 0\nkernels: [{name: a, deb: a.deb}]\n", "m.yaml:1: cpus: 0 is out of range 1..64"},
		{"memory 0", "kernels: [{name: a, deb: a.deb}]\nmemory: 0\n", "m.yaml:2: memory: 0 is too little"},
		{"mirror without scheme", "mirror: deb.debian.org/debian\nsuite: bookworm\nkernels: [{name: a, package: b}]\n", `m.yaml:1: mirror: "deb.debian.org/debian": want an http:// or https:// URL`},
		{"mirror not a URL", "mirror: 'ht!tp://x y'\nsuite: bookworm\nkernels: [{name: a, package: b}]\n", `m.yaml:1: mirror: "ht!tp://x y" is not a URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) = %v, want %q", tc.name, err, tc.want)
			}
		})
	}
	if _, err := Parse("m.yaml", []byte("mirror: https://deb.debian.org/debian\nsuite: bookworm\nboots: 2\nkernels: [{name: a, package: b}]\n")); err != nil {
		t.Errorf("Parse(a good mirror) = %v", err)
	}
}

// TestParseCostPerKernel bounds the memory a kernel entry costs to parse:
// the largest matrix allowed must stay cheap.
func TestParseCostPerKernel(t *testing.T) {
	data := kernelsYAML(MaxKernels)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Parse("m.yaml", data)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	per := (after.TotalAlloc - before.TotalAlloc) / uint64(len(m.Kernels))
	t.Logf("%d kernels: %d bytes allocated per entry", len(m.Kernels), per)
	if per > 64<<10 {
		t.Errorf("Parse allocates %d bytes per kernel entry, want at most 64 KiB", per)
	}
}
