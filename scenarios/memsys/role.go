package memsys

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/scenarios/measure"
)

// RoleVerb is the first argument of a memory scenario's child process
// (`kvet mem-role ROLE ARGS...`, /init in the guest); main dispatches on it.
const RoleVerb = "mem-role"

// Roles a child can play.
const (
	// RoleHold MB ADJ: maps MB of anonymous memory, fills every page,
	// says "ready", then on "touch" reads every page again, timing each,
	// and answers with a Touch; "exit" or the end of its input ends it.
	RoleHold = "hold"
	// RoleStream MB PASSES ADJ: maps MB and writes every page PASSES times,
	// says "done NS" and exits.
	RoleStream = "stream"
	// RoleLeak STEP_MB ADJ: grows by STEP_MB at a time, filling each page,
	// until it is killed; says "grew MB" after each step.
	RoleLeak = "leak"
	// RoleRead FILE MB ADJ: reads MB of FILE through the page cache, says
	// "done NS" and exits.
	RoleRead = "read"
	// RoleAlloc KB COUNT INTERVAL_US ADJ: COUNT times, one every
	// INTERVAL_US, maps KB of anonymous memory, writes every page of it and
	// unmaps it, timing each; answers with a Touch (Pages counts the
	// allocations) and exits.
	RoleAlloc = "alloc"
)

// Touch is what a holder saw touching its set again.
type Touch struct {
	Pages   int64 `json:"pages"`
	Wall    int64 `json:"wall_ns"`
	MajFlt  int64 `json:"majflt"`
	MinFlt  int64 `json:"minflt"`
	Corrupt int64 `json:"corrupt"`
	// Hist is the per-page latency histogram (ns), hdrhistogram's
	// compressed encoding.
	Hist string `json:"hist"`
}

// Histogram decodes the per-page latencies.
func (t *Touch) Histogram() (*hdrhistogram.Histogram, error) {
	return hdrhistogram.Decode([]byte(t.Hist))
}

// RoleMain runs a child's role; it returns the exit code.
func RoleMain(args []string) int {
	if err := role(args, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kvet %s %s: %v\n", RoleVerb, strings.Join(args, " "), err)
		return 1
	}
	return 0
}

func role(args []string, in io.Reader, out io.Writer) error {
	if len(args) < 1 {
		return errors.New("no role")
	}
	nums := make([]int64, 0, len(args))
	want := map[string]int{RoleHold: 2, RoleStream: 3, RoleLeak: 2, RoleRead: 3, RoleAlloc: 4}[args[0]]
	if want == 0 || len(args)-1 != want {
		return fmt.Errorf("role %q with %d arguments", args[0], len(args)-1)
	}
	file := ""
	for i, a := range args[1:] {
		if args[0] == RoleRead && i == 0 {
			file = a
			continue
		}
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return fmt.Errorf("argument %q: not a number", a)
		}
		nums = append(nums, n)
	}
	adj := nums[len(nums)-1]
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.FormatInt(adj, 10)), 0); err != nil {
		return err
	}
	switch args[0] {
	case RoleHold:
		return hold(nums[0]<<20, in, out)
	case RoleStream:
		t0 := measure.Now()
		m, err := mapAnon(nums[0] << 20)
		if err != nil {
			return err
		}
		for p := int64(0); p < nums[1]; p++ {
			fill(m, uint64(p+1))
		}
		_, err = fmt.Fprintf(out, "done %d\n", measure.Now()-t0)
		return err
	case RoleLeak:
		for total := int64(0); ; total += nums[0] {
			m, err := mapAnon(nums[0] << 20)
			if err != nil {
				return err
			}
			fill(m, uint64(total))
			fmt.Fprintf(out, "grew %d\n", total+nums[0])
		}
	case RoleAlloc:
		t, err := allocLoop(nums[0]<<10, nums[1], nums[2]*1000)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(t)
		_, err = out.Write(append(b, '\n'))
		return err
	case RoleRead:
		t0 := measure.Now()
		if err := readThrough(file, nums[0]<<20); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "done %d\n", measure.Now()-t0)
		return err
	}
	return nil
}

func mapAnon(size int64) ([]byte, error) {
	m, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d MiB: %w", size>>20, err)
	}
	return m, nil
}

// pageWords is how many 8-byte words of each page are filled: an eighth
// of the page is pseudo-random, the rest zero, so a page is neither
// same-filled (which zram stores as nothing) nor incompressible.
const pageWords = 64

// fill writes every page of m: its index and a pseudo-random run.
func fill(m []byte, seed uint64) {
	page := os.Getpagesize()
	x := seed*0x9e3779b97f4a7c15 | 1
	for off := 0; off+page <= len(m); off += page {
		w := (*[pageWords]uint64)(unsafePointer(&m[off]))
		w[0] = uint64(off/page) ^ seed<<40
		for i := 1; i < pageWords; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			w[i] = x
		}
	}
}

func hold(size int64, in io.Reader, out io.Writer) error {
	m, err := mapAnon(size)
	if err != nil {
		return err
	}
	const seed = 7
	fill(m, seed)
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch sc.Text() {
		case "touch":
			t, err := touch(m, seed)
			if err != nil {
				return err
			}
			b, _ := json.Marshal(t)
			if _, err := out.Write(append(b, '\n')); err != nil {
				return err
			}
		case "exit":
			return nil
		default:
			return fmt.Errorf("command %q", sc.Text())
		}
	}
	return sc.Err()
}

// touch reads the first word of every page, timing each read, and checks
// it is what fill wrote.
func touch(m []byte, seed uint64) (*Touch, error) {
	page := os.Getpagesize()
	h := measure.NewHist()
	var r0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r0)
	t := &Touch{}
	start := measure.Now()
	for off := 0; off+page <= len(m); off += page {
		t0 := measure.Now()
		v := *(*uint64)(unsafePointer(&m[off]))
		measure.Record(h, measure.Now()-t0)
		if v != uint64(off/page)^seed<<40 {
			t.Corrupt++
		}
		t.Pages++
	}
	return t.finish(h, &r0, start)
}

// finish completes t once its loop is done: the wall time since start,
// the faults since r0 and the latency histogram.
func (t *Touch) finish(h *hdrhistogram.Histogram, r0 *unix.Rusage, start int64) (*Touch, error) {
	t.Wall = measure.Now() - start
	var r1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r1)
	t.MajFlt, t.MinFlt = r1.Majflt-r0.Majflt, r1.Minflt-r0.Minflt
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, err
	}
	t.Hist = string(b)
	return t, nil
}

// allocLoop maps, fills and unmaps size bytes count times, one every
// interval ns, timing each from the map to the last page written.
func allocLoop(size, count, interval int64) (*Touch, error) {
	if size < int64(os.Getpagesize()) || count < 1 || interval < 0 {
		return nil, fmt.Errorf("alloc: %d bytes, %d times, every %d ns", size, count, interval)
	}
	page := os.Getpagesize()
	h := measure.NewHist()
	var r0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r0)
	t := &Touch{}
	start := measure.Now()
	next := start
	for i := int64(0); i < count; i++ {
		measure.SleepUntil(next)
		t0 := measure.Now()
		m, err := mapAnon(size)
		if err != nil {
			return nil, err
		}
		for off := 0; off < len(m); off += page {
			m[off] = byte(i)
		}
		measure.Record(h, measure.Now()-t0)
		unix.Munmap(m)
		t.Pages++
		next = max(next+interval, measure.Now())
	}
	return t.finish(h, &r0, start)
}

func readThrough(file string, size int64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	// pass is what was read since the last rewind: none at the end of a
	// pass means the file is empty, and rewinding again would spin.
	for n, pass := int64(0), int64(0); n < size; {
		k, err := f.Read(buf[:min(int64(len(buf)), size-n)])
		n += int64(k)
		pass += int64(k)
		if err == io.EOF {
			if pass == 0 {
				return fmt.Errorf("%s: nothing to read", file)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			pass = 0
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Role is a child process playing a role.
type Role struct {
	Name string
	Cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	// Exited is closed when the process has been waited for; State and
	// ExitErr are then set.
	Exited  chan struct{}
	State   *os.ProcessState
	ExitErr error
	At      int64 // measure.Now() when the wait returned
}

// StartRole starts `SELF mem-role ROLE ARGS...` in cg (straight into it:
// clone3's CLONE_INTO_CGROUP, so not a page is charged elsewhere), its
// errors on this process's stderr.
func StartRole(cg *Cgroup, name string, args ...string) (*Role, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fd, err := cg.FD()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	cmd := exec.Command(self, append([]string{RoleVerb}, args...)...)
	cmd.Stderr = os.Stderr
	// No parent-death signal: Linux sends it when the thread that started
	// the child exits, and the Go runtime ends a thread whose goroutine
	// exits locked to it; a SIGKILL from it would read as the OOM killer's
	// (Killed). A role ends at the end of its input or of its work, in a
	// group whose limit bounds it, and the scenario's process group is
	// killed whole on a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := outputPipe(cmd)
	if err != nil {
		return nil, err
	}
	err = cmd.Start()
	cmd.Stdout.(*os.File).Close() // the child's end
	if err != nil {
		outp.Close()
		return nil, fmt.Errorf("%s: start in %s: %w", name, cg.Path, err)
	}
	r := &Role{Name: name, Cmd: cmd, in: in, out: bufio.NewReader(outp), Exited: make(chan struct{})}
	go func() {
		r.ExitErr = cmd.Wait()
		r.State, r.At = cmd.ProcessState, measure.Now()
		close(r.Exited)
	}()
	return r, nil
}

// outputPipe makes cmd's standard output a pipe whose read end the caller
// owns (closed when the scenario process ends). cmd.StdoutPipe's is closed
// by Wait as soon as the child exits, so the last lines a role wrote just
// before it exited ("file already closed") were lost to the goroutine
// that waits for it. The caller closes cmd.Stdout after Start.
func outputPipe(cmd *exec.Cmd) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = w
	return r, nil
}

// Line reads the child's next line of output, waiting at most d.
func (r *Role) Line(d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := r.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case x := <-ch:
		if x.err != nil {
			<-r.Exited
			return "", fmt.Errorf("%s: %w (%v)", r.Name, x.err, r.ExitErr)
		}
		return x.s, nil
	case <-time.After(d):
		return "", fmt.Errorf("%s: no answer in %v", r.Name, d)
	}
}

// Send writes a command line to the child.
func (r *Role) Send(cmd string) error {
	_, err := io.WriteString(r.in, cmd+"\n")
	return err
}

// Killed reports whether the child died of SIGKILL (the OOM killer's
// signal), once it has exited.
func (r *Role) Killed() bool {
	select {
	case <-r.Exited:
	default:
		return false
	}
	ws, ok := r.State.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Stop ends the child: closes its input and kills it if it is still there
// after d, then waits.
func (r *Role) Stop(d time.Duration) {
	r.in.Close()
	select {
	case <-r.Exited:
		return
	case <-time.After(d):
	}
	r.Cmd.Process.Kill()
	<-r.Exited
}
