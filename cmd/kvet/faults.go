package main

import (
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/internal/wire"
)

// checkRunFlags refuses flag values that are not matrix settings out of
// their ranges; the matrix's own settings (boots, cpus, memory, timeout,
// mirror) are checked by matrix.Override, as a matrix file is.
func checkRunFlags(f *runFlags) error {
	switch {
	case f.parallel < 0:
		return badInputf("run: --parallel %d: want 0 (as many as the host's CPUs allow) or more", f.parallel)
	case f.retries < 0 || f.retries > 10:
		return badInputf("run: --retries %d: out of range 0..10", f.retries)
	case f.confirm < 0 || f.confirm > 10:
		return badInputf("run: --confirm %d: out of range 0..10", f.confirm)
	case f.traceBufferKB != 0 && f.trace == matrix.TraceOff:
		return badInputf("run: --trace-buffer-kb sizes the buffer of traced boots: not with --trace=off")
	case f.traceBufferKB != 0 && (f.traceBufferKB < wire.MinTraceBufferKB || f.traceBufferKB > wire.MaxTraceBufferKB):
		return badInputf("run: --trace-buffer-kb %d: out of range %d..%d", f.traceBufferKB, wire.MinTraceBufferKB, wire.MaxTraceBufferKB)
	}
	if err := matrix.CheckMirror(f.Mirror); err != nil {
		return badInputf("run: --%v", err)
	}
	if err := f.Override.Check(); err != nil {
		return badInput(err)
	}
	return nil
}
