package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A boot's temporary directories (its QMP and agent sockets, the console
// when no run directory is given) are named after the kvet process that owns
// them, so that the next kvet can remove those a killed one left behind.
const (
	workDirTag = "kvet-boot-"
	sockDirTag = "kvet-sock-"
)

func workDirPrefix() string { return workDirTag + strconv.Itoa(os.Getpid()) + "-" }
func sockDirPrefix() string { return sockDirTag + strconv.Itoa(os.Getpid()) + "-" }

var cleanStaleOnce sync.Once

// CleanStale removes from dir the boot directories whose owner process is
// gone and returns how many it removed. A directory of a live process, or
// one whose name carries no owner, is left alone.
func CleanStale(dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		pid, ok := ownerPID(e.Name())
		if !ok || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if os.RemoveAll(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n
}

// ownerPID reads the owner from a name made by workDirPrefix or
// sockDirPrefix.
func ownerPID(name string) (int, bool) {
	for _, tag := range []string{workDirTag, sockDirTag} {
		rest, ok := strings.CutPrefix(name, tag)
		if !ok {
			continue
		}
		p, _, ok := strings.Cut(rest, "-")
		if !ok {
			return 0, false
		}
		pid, err := strconv.Atoi(p)
		return pid, err == nil && pid > 0
	}
	return 0, false
}

// processAlive: signal 0 reaches the process, or it exists and is not ours.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
