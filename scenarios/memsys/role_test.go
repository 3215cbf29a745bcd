package memsys

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// adjZero skips a test of role(), which writes the oom_score_adj it is
// given ("0") to this process's own /proc/self/oom_score_adj, unless the
// current value is 0: writing 0 then changes nothing and is allowed
// unprivileged, while lowering the value needs CAP_SYS_RESOURCE (and as
// root would change the test process's standing with the OOM killer).
func adjZero(t *testing.T) {
	t.Helper()
	s, err := Read("/proc/self/oom_score_adj")
	if err != nil {
		t.Skipf("no /proc/self/oom_score_adj: %v", err)
	}
	if s != "0" {
		t.Skipf("oom_score_adj is %s, not 0: role() would set it to 0, which changes this process and needs privilege", s)
	}
}

func TestRoleArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the error
	}{
		{"no role", nil, "no role"},
		{"unknown role", []string{"nap", "1", "0"}, `role "nap"`},
		{"hold, too few", []string{RoleHold, "1"}, "1 arguments"},
		{"hold, too many", []string{RoleHold, "1", "0", "0"}, "3 arguments"},
		{"stream, too few", []string{RoleStream, "1", "0"}, "2 arguments"},
		{"read, too few", []string{RoleRead, "/f", "0"}, "2 arguments"},
		{"alloc, too few", []string{RoleAlloc, "4", "1", "0"}, "3 arguments"},
		{"leak, too many", []string{RoleLeak, "1", "0", "0"}, "3 arguments"},
		{"not a number", []string{RoleHold, "lots", "0"}, `"lots": not a number`},
		{"adj not a number", []string{RoleStream, "1", "1", "-"}, `"-": not a number`},
		{"read, size not a number", []string{RoleRead, "/f", "1M", "0"}, `"1M": not a number`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := role(tt.args, strings.NewReader(""), &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: role(%q) = %v, want an error saying %q", tt.name, tt.args, err, tt.want)
		}
		if out.Len() > 0 {
			t.Errorf("%s: role(%q) wrote %q before failing its arguments", tt.name, tt.args, out.String())
		}
	}
}

// doneLine checks out is one "done NS" line.
func doneLine(t *testing.T, what, out string) {
	t.Helper()
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != "done" || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("%s wrote %q, want one line \"done NS\"", what, out)
		return
	}
	if ns, err := strconv.ParseInt(f[1], 10, 64); err != nil || ns <= 0 {
		t.Errorf("%s wrote %q: %q is not a positive duration in ns", what, out, f[1])
	}
}

func TestRoleStream(t *testing.T) {
	adjZero(t)
	var out bytes.Buffer
	if err := role([]string{RoleStream, "1", "1", "0"}, strings.NewReader(""), &out); err != nil {
		t.Fatalf("role(stream 1 1 0): %v", err)
	}
	doneLine(t, "stream", out.String())
}

func TestRoleHold(t *testing.T) {
	adjZero(t)
	var out bytes.Buffer
	if err := role([]string{RoleHold, "1", "0"}, strings.NewReader("touch\nexit\n"), &out); err != nil {
		t.Fatalf("role(hold 1 0): %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "ready" {
		t.Fatalf("hold wrote %q, want ready and one Touch", out.String())
	}
	var tc Touch
	if err := json.Unmarshal([]byte(lines[1]), &tc); err != nil {
		t.Fatalf("hold's answer %q: %v", lines[1], err)
	}
	if want := int64(1<<20) / int64(os.Getpagesize()); tc.Pages != want {
		t.Errorf("Touch.Pages = %d, want %d (1 MiB of pages)", tc.Pages, want)
	}
	if tc.Corrupt != 0 {
		t.Errorf("Touch.Corrupt = %d, want 0", tc.Corrupt)
	}
	if tc.Wall <= 0 {
		t.Errorf("Touch.Wall = %d, want > 0", tc.Wall)
	}
	h, err := tc.Histogram()
	if err != nil {
		t.Fatalf("Touch.Histogram(): %v", err)
	}
	if h.TotalCount() != tc.Pages {
		t.Errorf("histogram of %d reads, want one a page (%d)", h.TotalCount(), tc.Pages)
	}
}

func TestRoleHoldInput(t *testing.T) {
	adjZero(t)
	// The end of its input ends a holder as exit does.
	var out bytes.Buffer
	if err := role([]string{RoleHold, "1", "0"}, strings.NewReader(""), &out); err != nil || out.String() != "ready\n" {
		t.Errorf("hold with no input: %v, wrote %q; want nil, ready", err, out.String())
	}
	// Nothing is read after exit.
	out.Reset()
	if err := role([]string{RoleHold, "1", "0"}, strings.NewReader("exit\ntouch\n"), &out); err != nil || out.String() != "ready\n" {
		t.Errorf("hold with exit then touch: %v, wrote %q; want nil, ready", err, out.String())
	}
	out.Reset()
	if err := role([]string{RoleHold, "1", "0"}, strings.NewReader("tuoch\n"), &out); err == nil || !strings.Contains(err.Error(), `"tuoch"`) {
		t.Errorf("hold with an unknown command: %v, want an error naming it", err)
	}
}

func TestRoleRead(t *testing.T) {
	adjZero(t)
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	// 100 KiB read as 1 MiB: it wraps around to the start.
	if err := os.WriteFile(small, bytes.Repeat([]byte("kvet"), 25<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := role([]string{RoleRead, small, "1", "0"}, strings.NewReader(""), &out); err != nil {
		t.Fatalf("role(read small 1 0): %v", err)
	}
	doneLine(t, "read", out.String())
	out.Reset()
	if err := role([]string{RoleRead, filepath.Join(dir, "missing"), "1", "0"}, strings.NewReader(""), &out); err == nil || out.Len() > 0 {
		t.Errorf("read of a missing file: %v, wrote %q; want an error and nothing", err, out.String())
	}
}

// TestReadEmpty: an empty file has nothing to read around; reading it
// must fail, not rewind forever.
func TestReadEmpty(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- readThrough(empty, 1<<20) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), empty) {
			t.Errorf("readThrough(empty file) = %v, want an error naming the file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("readThrough(empty file) still running after 10s")
	}
}

func TestRoleAlloc(t *testing.T) {
	adjZero(t)
	var out bytes.Buffer
	if err := role([]string{RoleAlloc, "64", "5", "0", "0"}, strings.NewReader(""), &out); err != nil {
		t.Fatalf("role(alloc 64 5 0 0): %v", err)
	}
	var tc Touch
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &tc); err != nil {
		t.Fatalf("alloc's answer %q: %v", out.String(), err)
	}
	if tc.Pages != 5 {
		t.Errorf("Touch.Pages = %d, want 5 allocations", tc.Pages)
	}
	if h, err := tc.Histogram(); err != nil || h.TotalCount() != 5 {
		t.Errorf("histogram: %v, %v; want 5 timings", h, err)
	}
	// Less than a page is refused.
	if err := role([]string{RoleAlloc, "1", "5", "0", "0"}, strings.NewReader(""), &out); err == nil {
		t.Errorf("alloc of 1 KiB: no error")
	}
}

// TestFillTouch: touch finds what fill wrote, and counts a page whose
// first word changed.
func TestFillTouch(t *testing.T) {
	page := os.Getpagesize()
	m, err := mapAnon(int64(4 * page))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	const seed = 7
	fill(m, seed)
	tc, err := touch(m, seed)
	if err != nil || tc.Pages != 4 || tc.Corrupt != 0 {
		t.Fatalf("touch after fill = %+v, %v; want 4 pages, none corrupt", tc, err)
	}
	if h, err := tc.Histogram(); err != nil || h.TotalCount() != 4 {
		t.Errorf("touch's histogram: %v, %v; want 4 reads", h, err)
	}
	m[2*page] ^= 1
	if tc, err := touch(m, seed); err != nil || tc.Pages != 4 || tc.Corrupt != 1 {
		t.Errorf("touch after a flipped bit = %+v, %v; want 4 pages, 1 corrupt", tc, err)
	}
	m[2*page] ^= 1
	if tc, err := touch(m, seed+1); err != nil || tc.Corrupt != 4 {
		t.Errorf("touch with another seed = %+v, %v; want all 4 corrupt", tc, err)
	}
	// A page moved to another's place is corrupt too: each carries its index.
	copy(m[page:2*page], m[0:page])
	if tc, err := touch(m, seed); err != nil || tc.Corrupt != 1 {
		t.Errorf("touch with page 0 copied over page 1 = %+v, %v; want 1 corrupt", tc, err)
	}
}

// TestFillPages: every page is neither same-filled (zram would keep such a
// page as one word) nor all random: the start is filled, the rest zero,
// and no two pages are alike.
func TestFillPages(t *testing.T) {
	page := os.Getpagesize()
	m, err := mapAnon(int64(8 * page))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	fill(m, 3)
	seen := map[string]int{}
	for i := 0; i < 8; i++ {
		p := m[i*page : (i+1)*page]
		head, rest := p[:pageWords*8], p[pageWords*8:]
		if bytes.Count(head, []byte{0}) > len(head)/2 {
			t.Errorf("page %d: first %d bytes mostly zero", i, len(head))
		}
		if !bytes.Equal(rest, make([]byte, len(rest))) {
			t.Errorf("page %d: beyond the first %d bytes not zero", i, len(head))
		}
		if j, ok := seen[string(p)]; ok {
			t.Errorf("page %d is the same as page %d", i, j)
		}
		seen[string(p)] = i
	}
	// A page at the end that is not whole is left alone.
	n, err := mapAnon(int64(2 * page))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(n)
	part := n[:page+page/2]
	fill(part, 3)
	if !bytes.Equal(n[page:], make([]byte, page)) {
		t.Errorf("fill wrote into a partial page")
	}
	if tc, err := touch(part, 3); err != nil || tc.Pages != 1 || tc.Corrupt != 0 {
		t.Errorf("touch of a page and a half = %+v, %v; want 1 page, none corrupt", tc, err)
	}
}

// What a child wrote just before it exited can still be read after Wait
// returned (cmd.StdoutPipe's read end is closed by Wait: the lines were
// lost to a race with the goroutine that waits for the role).
func TestOutputPipeOutlivesWait(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "echo first; echo last")
	out, err := outputPipe(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	err = cmd.Start()
	cmd.Stdout.(*os.File).Close()
	if err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(out)
	if err != nil || string(b) != "first\nlast\n" {
		t.Errorf("after Wait read %q, %v; want both lines", b, err)
	}
}
