package main

import (
	"github.com/kvet/kvet/internal/matrix"
)

// checkRunFlags refuses flag values outside the ranges the matrix accepts
// for the same settings; 0 leaves the matrix's value.
func checkRunFlags(f *runFlags) error {
	switch {
	case f.parallel < 0:
		return badInputf("run: --parallel %d: want 0 (as many as the host's CPUs allow) or more", f.parallel)
	case f.retries < 0 || f.retries > 10:
		return badInputf("run: --retries %d: out of range 0..10", f.retries)
	case f.Boots < 0 || f.Boots > matrix.MaxBoots:
		return badInputf("run: --boots %d: out of range 1..%d", f.Boots, matrix.MaxBoots)
	case f.CPUs < 0 || f.CPUs > matrix.MaxCPUs:
		return badInputf("run: --cpus %d: out of range 1..%d", f.CPUs, matrix.MaxCPUs)
	case f.Memory < 0 || f.Memory > 0 && f.Memory < matrix.MinMemory:
		return badInputf("run: --memory %d: at least %d (MiB)", f.Memory, matrix.MinMemory)
	case f.Timeout < 0:
		return badInputf("run: --timeout %s: want a positive duration", f.Timeout)
	}
	if err := matrix.CheckMirror(f.Mirror); err != nil {
		return badInputf("run: --%v", err)
	}
	return nil
}
