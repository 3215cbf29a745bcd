package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// HostCPUs returns the CPUs this process may run on, in ascending order:
// the affinity mask, which honours taskset and cgroup cpusets, rather than
// every CPU the machine has.
func HostCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("cpu affinity: %w", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// CPUSets divides host CPUs among slots guests of vcpus vCPUs each, so that
// guests running at once never share a host CPU: slot i gets host[i*vcpus :
// (i+1)*vcpus]. It returns nil, meaning "do not pin", when the host has too
// few CPUs for every slot to get its own: pinning two guests onto one CPU
// would serialise them and distort timings more than letting the host's
// scheduler spread them.
func CPUSets(host []int, slots, vcpus int) [][]int {
	if slots < 1 || vcpus < 1 || slots*vcpus > len(host) {
		return nil
	}
	sets := make([][]int, slots)
	for i := range sets {
		sets[i] = append([]int(nil), host[i*vcpus:(i+1)*vcpus]...)
	}
	return sets
}

// SpareCPUs returns the host CPUs in none of sets: where QEMU's emulator
// threads can run without taking time from any guest's vCPUs.
func SpareCPUs(host []int, sets [][]int) []int {
	used := map[int]bool{}
	for _, set := range sets {
		for _, c := range set {
			used[c] = true
		}
	}
	var spare []int
	for _, c := range host {
		if !used[c] {
			spare = append(spare, c)
		}
	}
	return spare
}

// vcpuThreads asks QEMU for the host thread of each vCPU, in vCPU order.
// query-cpus-fast is newer than go-qemu's generated raw schema, so the
// command is sent as raw JSON.
func (b *boot) vcpuThreads(ctx context.Context) ([]int, error) {
	var out []byte
	err := b.guard(ctx, "query-cpus-fast", func() error {
		var err error
		out, err = b.mon.Run([]byte(`{"execute":"query-cpus-fast"}`))
		return err
	})
	if err != nil {
		return nil, err
	}
	return parseCPUsFast(out)
}

// parseCPUsFast reads a query-cpus-fast reply into thread ids by vCPU index.
func parseCPUsFast(reply []byte) ([]int, error) {
	var r struct {
		Return []struct {
			Index  int `json:"cpu-index"`
			Thread int `json:"thread-id"`
		} `json:"return"`
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		return nil, fmt.Errorf("query-cpus-fast: %w", err)
	}
	if len(r.Return) == 0 {
		return nil, fmt.Errorf("query-cpus-fast: no vCPUs")
	}
	threads := make([]int, len(r.Return))
	for _, c := range r.Return {
		if c.Index < 0 || c.Index >= len(threads) || c.Thread <= 0 {
			return nil, fmt.Errorf("query-cpus-fast: vCPU %d thread %d out of range", c.Index, c.Thread)
		}
		threads[c.Index] = c.Thread
	}
	for i, tid := range threads {
		if tid == 0 {
			return nil, fmt.Errorf("query-cpus-fast: no thread for vCPU %d", i)
		}
	}
	return threads, nil
}

// pin confines QEMU while the guest is still paused, as libvirt's vcpupin
// and emulatorpin do: every QEMU thread (main loop, I/O) to the emulator
// CPUs, then vCPU i to HostCPUs[i] alone. It returns the CPU each vCPU was
// pinned to and the emulator's CPUs.
func (b *boot) pin(ctx context.Context) (vcpus, emulator []int, err error) {
	cpus := b.s.HostCPUs
	emulator = b.s.EmulatorCPUs
	if len(emulator) == 0 {
		emulator = cpus
	}
	threads, err := b.vcpuThreads(ctx)
	if err != nil {
		return nil, nil, err
	}
	var all unix.CPUSet
	for _, c := range emulator {
		all.Set(c)
	}
	tids, err := processThreads(b.cmd.Process.Pid)
	if err != nil {
		return nil, nil, err
	}
	for _, tid := range tids {
		// A thread may end between the listing and the call.
		if err := unix.SchedSetaffinity(tid, &all); err != nil && err != unix.ESRCH {
			return nil, nil, fmt.Errorf("pin qemu thread %d: %w", tid, err)
		}
	}
	pinned := make([]int, len(threads))
	for i, tid := range threads {
		c := cpus[i%len(cpus)]
		var one unix.CPUSet
		one.Set(c)
		if err := unix.SchedSetaffinity(tid, &one); err != nil {
			return nil, nil, fmt.Errorf("pin vCPU %d (thread %d) to CPU %d: %w", i, tid, c, err)
		}
		pinned[i] = c
	}
	return pinned, emulator, nil
}

// processThreads lists a process's thread ids.
func processThreads(pid int) ([]int, error) {
	ents, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return nil, fmt.Errorf("qemu threads: %w", err)
	}
	var tids []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// CPUClaim holds host CPUs for this process's guests; see ClaimCPUs.
type CPUClaim struct {
	locks []*flock.Flock
}

// ClaimCPUs takes an exclusive lock for every CPU of sets, as a file in dir,
// so that two kvet processes on one host never pin guests to the same CPU.
// It returns nil, and holds nothing, when another process holds one of
// them: the caller then runs unpinned. The locks go with the process, so a
// killed kvet never leaves a CPU claimed.
func ClaimCPUs(dir string, sets [][]int) (*CPUClaim, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cpu claims: %w", err)
	}
	c := &CPUClaim{}
	for _, set := range sets {
		for _, cpu := range set {
			l := flock.New(filepath.Join(dir, fmt.Sprintf("cpu%d.lock", cpu)))
			ok, err := l.TryLock()
			if err != nil || !ok {
				c.Release()
				if err != nil {
					return nil, fmt.Errorf("cpu claims: %w", err)
				}
				return nil, nil
			}
			c.locks = append(c.locks, l)
		}
	}
	return c, nil
}

// Release gives the CPUs back.
func (c *CPUClaim) Release() {
	if c == nil {
		return
	}
	for _, l := range c.locks {
		l.Unlock()
	}
	c.locks = nil
}

// Renice gives every thread of process pid the nice value nice (a thread's
// nice is its own on Linux: setpriority on the process would change only
// its main thread) and returns the value read back from /proc, the
// highest among its threads: what the least favoured one got.
func Renice(pid, nice int) (int, error) {
	tids, err := processThreads(pid)
	if err != nil {
		return 0, err
	}
	for _, tid := range tids {
		// A thread may end between the listing and the call.
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
			return 0, fmt.Errorf("nice %d for qemu thread %d: %w", nice, tid, err)
		}
	}
	got, seen := 0, false
	for _, tid := range tids {
		n, err := threadNice(pid, tid)
		if err != nil {
			continue
		}
		if !seen || n > got {
			got, seen = n, true
		}
	}
	if !seen {
		return 0, fmt.Errorf("nice of qemu (pid %d): no thread to read", pid)
	}
	return got, nil
}

// threadNice reads a thread's nice value (field 19 of its stat).
func threadNice(pid, tid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of thread %d: no comm", tid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); nice is field 19.
	if len(f) < 17 {
		return 0, fmt.Errorf("stat of thread %d: %d fields", tid, len(f))
	}
	return strconv.Atoi(f[19-3])
}

// CanRenice says whether this process may give QEMU the nice value nice:
// it tries it on a thread of its own that then ends. A negative value
// needs root or CAP_SYS_NICE (or a high enough RLIMIT_NICE).
func CanRenice(nice int) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, its nice
		// value with it.
		runtime.LockOSThread()
		errc <- unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("qemu_nice %d: %w (a negative nice value needs root or CAP_SYS_NICE)", nice, err)
	}
	return nil
}
