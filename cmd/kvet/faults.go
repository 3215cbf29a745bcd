package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/results"
)

// withKernel prefixes err with its kernel's name unless it names a kernel
// already (errors from kernels.Resolve do), so that no message says it twice.
func withKernel(name string, err error) error {
	if strings.HasPrefix(err.Error(), "kernel ") {
		return err
	}
	return fmt.Errorf("kernel %s: %w", name, err)
}

// runDirError is bad input when the directory already holds a run and an
// infrastructure failure otherwise (a full disk, an I/O error).
func runDirError(err error) error {
	if errors.Is(err, results.ErrRunExists) && !diskFault(err) {
		return badInput(err)
	}
	return infra(err)
}

// checkRunFlags refuses flag values outside the ranges the matrix accepts
// for the same settings; 0 leaves the matrix's value.
func checkRunFlags(f *runFlags) error {
	switch {
	case f.parallel < 0:
		return badInputf("run: --parallel %d: want 0 (as many as the host's CPUs allow) or more", f.parallel)
	case f.retries < 0 || f.retries > 10:
		return badInputf("run: --retries %d: out of range 0..10", f.retries)
	case f.boots < 0 || f.boots > matrix.MaxBoots:
		return badInputf("run: --boots %d: out of range 1..%d", f.boots, matrix.MaxBoots)
	case f.cpus < 0 || f.cpus > matrix.MaxCPUs:
		return badInputf("run: --cpus %d: out of range 1..%d", f.cpus, matrix.MaxCPUs)
	case f.memory < 0 || f.memory > 0 && f.memory < matrix.MinMemory:
		return badInputf("run: --memory %d: at least %d (MiB)", f.memory, matrix.MinMemory)
	case f.timeout < 0:
		return badInputf("run: --timeout %s: want a positive duration", f.timeout)
	}
	if err := matrix.CheckMirror(f.mirror); err != nil {
		return badInputf("run: --%v", err)
	}
	return nil
}

// resumePool keeps a resumed run's pool as it was recorded (guests at once,
// one at a time), unless flags say otherwise: boots of one run share the
// conditions they were measured under. It reports whether it kept it.
func resumePool(f *runFlags, old *results.Run) bool {
	if old == nil || f.parallel != 0 || f.isolate || old.Parallel <= 0 {
		return false
	}
	f.parallel, f.isolate = old.Parallel, old.Isolate
	return true
}

// diskFault says whether err is the host's storage failing (full, over
// quota, read-only, an I/O error): an infrastructure failure wherever it
// happens, never bad input.
func diskFault(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
