package pipeline

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/kvet/kvet/kernels/apt"
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

// fetchFault says whether err is a fetch that failed on the way: a refused
// signature or hash, a download that failed every attempt, the network.
func fetchFault(err error) bool {
	var (
		refused  *apt.IntegrityError
		download *apt.DownloadError
		urlErr   *url.Error // a request that failed on the network
		netErr   *net.OpError
	)
	return errors.As(err, &refused) || errors.As(err, &download) || errors.As(err, &urlErr) || errors.As(err, &netErr)
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

// runDirError is bad input when the directory already holds a run and an
// infrastructure failure otherwise (a full disk, an I/O error).
func runDirError(err error) error {
	if errors.Is(err, results.ErrRunExists) && !diskFault(err) {
		return badInput(err)
	}
	return infra(err)
}

// resumePool keeps a resumed run's pool as it was recorded (guests at once,
// one at a time), unless the options say otherwise: boots of one run share
// the conditions they were measured under. It reports whether it kept it.
func resumePool(o *Options, old *results.Run) bool {
	if old == nil || o.Parallel != 0 || o.Isolate || old.Parallel <= 0 {
		return false
	}
	o.Parallel, o.Isolate = old.Parallel, old.Isolate
	return true
}
