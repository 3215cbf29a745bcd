package results

import (
	"errors"
	"strings"
	"testing"
)

// TestDiffRunsRefusesMissingKernels: a diff of kernels the runs lack is a
// *BadDiffError naming what the runs have.
func TestDiffRunsRefusesMissingKernels(t *testing.T) {
	run := func(host string, names ...string) DiffSide {
		r := &Run{ID: host, Accel: "tcg", Host: Host{Hostname: host}}
		for _, n := range names {
			r.Kernels = append(r.Kernels, Kernel{Name: n})
		}
		return DiffSide{Path: host, Run: r}
	}
	old, new := run("a", "stable", "next"), run("b", "other")
	tests := []struct {
		o    DiffOptions
		want string
	}{
		{DiffOptions{}, "no kernel name in common (stable, next / other)"},
		{DiffOptions{Kernel: "stable"}, `b has no kernel "stable" (it has other)`},
		{DiffOptions{OldKernel: "nope", NewKernel: "other"}, `a has no kernel "nope" (it has stable, next)`},
		{DiffOptions{OldKernel: "stable"}, "go together"},
		{DiffOptions{Kernel: "x", NewKernel: "y"}, "not both"},
	}
	for _, tt := range tests {
		_, err := DiffRuns(old, new, tt.o)
		var bad *BadDiffError
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DiffRuns(%+v) = %v, want a BadDiffError containing %q", tt.o, err, tt.want)
		}
	}
	if got, want := mixedMachines(old.Run, new.Run), "host (a vs b)"; got != want {
		t.Errorf("mixedMachines = %q, want %q", got, want)
	}
}
