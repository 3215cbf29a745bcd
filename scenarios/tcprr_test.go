package scenarios

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios/measure"
)

// tcpTestEnv is the host as a scenario sees it.
func tcpTestEnv(t *testing.T) Env {
	return Env{CPUs: runtime.NumCPU(), Seed: 1, Logf: t.Logf}
}

// tcpRunScenario runs a registered scenario with params and checks the result
// is well formed.
func tcpRunScenario(t *testing.T, name string, params any) *results.Scenario {
	t.Helper()
	s, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := s.Run(ctx, tcpTestEnv(t), params)
	if err != nil {
		t.Fatalf("%s: Run() error %v", name, err)
	}
	if r.Name != name {
		t.Errorf("%s: Name = %q, want %q", name, r.Name, name)
	}
	if r.Duration <= 0 {
		t.Errorf("%s: Duration = %v, want > 0", name, r.Duration)
	}
	for _, m := range r.Metrics {
		if m.Name == "" || m.Unit == "" || m.Better == "" {
			t.Errorf("%s: metric %+v lacks a name, unit or direction", name, m)
		}
	}
	t.Logf("%s: valid=%v %s in %v", name, r.Valid, r.Invalid, r.Duration)
	for _, m := range r.Metrics {
		t.Logf("  %-40s %12.1f %s", m.Name, m.Value, m.Unit)
	}
	return r
}

// tcpMetric returns the value of the metric called name.
func tcpMetric(t *testing.T, r *results.Scenario, name string) float64 {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	var names []string
	for _, m := range r.Metrics {
		names = append(names, m.Name)
	}
	t.Fatalf("%s: no metric %q (have %s)", r.Name, name, strings.Join(names, ", "))
	return 0
}

// TestTCPRR runs tcp-rr with its server in a process of its own (the test
// binary started as `tcp-echo`, see TestMain) and as a thread.
func TestTCPRR(t *testing.T) {
	for _, server := range []string{ServerProcess, ServerThread} {
		t.Run(server, func(t *testing.T) { testTCPRR(t, server) })
	}
}

func testTCPRR(t *testing.T, server string) {
	r := tcpRunScenario(t, "tcp-rr", &TCPRRParams{Duration: 200 * time.Millisecond, Warmup: 100, Size: 64, Server: server})
	if !r.Valid {
		t.Fatalf("tcp-rr: Valid = false (%s), want true", r.Invalid)
	}
	if got := tcpMetric(t, r, "transactions"); got < 100 {
		t.Errorf("tcp-rr: transactions = %v ops/s, want >= 100", got)
	}
	if got := tcpMetric(t, r, "rtt.p50"); got <= 0 || got > 10e6 {
		t.Errorf("tcp-rr: rtt.p50 = %v ns, want in (0, 10ms]", got)
	}
	if len(r.Histograms) != 1 || !strings.HasPrefix(r.Histograms[0].Encoded, "HISTF") {
		t.Errorf("tcp-rr: histograms = %+v, want one HISTF... histogram", r.Histograms)
	}
}

func TestTCPRRValidate(t *testing.T) {
	ok := TCPRRParams{Duration: time.Second, Warmup: 1, Size: 64, Server: ServerProcess}
	tests := []struct {
		name  string
		edit  func(p *TCPRRParams)
		field string // "" means valid
	}{
		{"defaults", func(p *TCPRRParams) {}, ""},
		{"zero duration", func(p *TCPRRParams) { p.Duration = 0 }, "duration"},
		{"negative warmup", func(p *TCPRRParams) { p.Warmup = -1 }, "warmup"},
		{"zero size", func(p *TCPRRParams) { p.Size = 0 }, "size"},
		{"huge size", func(p *TCPRRParams) { p.Size = 1 << 30 }, "size"},
		{"thread server", func(p *TCPRRParams) { p.Server = ServerThread }, ""},
		{"no server", func(p *TCPRRParams) { p.Server = "" }, "server"},
		{"unknown server", func(p *TCPRRParams) { p.Server = "fork" }, "server"},
	}
	for _, tt := range tests {
		p := ok
		tt.edit(&p)
		tcpCheckValidate(t, tt.name, p.Validate(), tt.field)
	}
}

// tcpCheckValidate checks that err names field, or is nil when field is "".
func tcpCheckValidate(t *testing.T, name string, err error, field string) {
	t.Helper()
	switch {
	case field == "" && err != nil:
		t.Errorf("%s: Validate() = %v, want nil", name, err)
	case field != "" && err == nil:
		t.Errorf("%s: Validate() = nil, want an error naming %s", name, field)
	case field != "" && !strings.HasPrefix(err.Error(), field+":"):
		t.Errorf("%s: Validate() = %v, want an error naming %s", name, err, field)
	}
}

// TestTCPDefaultsValidate checks every profile's defaults of the TCP and exec
// scenarios validate and round-trip through JSON as the agent receives them.
func TestTCPDefaultsValidate(t *testing.T) {
	for _, name := range []string{"tcp-rr", "nagle", "idle-restart", "tcp-crr", "small-msgs"} {
		s, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, prof := range []string{Quick, Full} {
			p := s.Defaults(prof)
			if v, ok := p.(Validator); ok {
				if err := v.Validate(); err != nil {
					t.Errorf("%s %s: Validate() = %v, want nil", name, prof, err)
				}
			} else {
				t.Errorf("%s: %T does not implement Validator", name, p)
			}
		}
	}
}

// The server process reports its failures with its stderr, and a process
// server whose peer never connects ends cleanly when the listener is shut.
func TestTCPEchoProcess(t *testing.T) {
	if code := TCPEchoMain([]string{"0"}); code != 1 {
		t.Errorf("TCPEchoMain with one argument = %d, want 1", code)
	}
	if code := TCPEchoMain([]string{"0", "0"}); code != 1 {
		t.Errorf("TCPEchoMain with size 0 = %d, want 1", code)
	}
	lfd, _, err := measure.Listen(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	done, stop, err := tcpServeProcess(0, lfd, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	unix.Shutdown(lfd, unix.SHUT_RDWR)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server process shut down before a connection: %v, want a clean end", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server process still running 30 s after its listener was shut down")
	}
	ServesChildren = false
	defer func() { ServesChildren = true }()
	if _, _, err := tcpServeProcess(0, lfd, 64); err == nil {
		t.Error("a binary that does not serve tcp-echo started itself as a server")
	}
}

// The server process outlives the thread that started it: the Go runtime
// ends a thread whose goroutine exits locked to it (tcp-rr's client does),
// and a parent-death signal would kill the server with it.
func TestTCPEchoOutlivesThread(t *testing.T) {
	lfd, port, err := measure.Listen(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	type started struct {
		done <-chan error
		stop func()
		err  error
	}
	// This goroutine keeps its thread, so the one below runs on another.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ch := make(chan *started)
	var s *started
	for try := 0; s == nil && try < 20; try++ {
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				// The main thread is never ended: try another.
				runtime.UnlockOSThread()
				ch <- nil
				return
			}
			done, stop, err := tcpServeProcess(-1, lfd, 8)
			ch <- &started{done, stop, err}
			// Never unlocked: the thread exits with the goroutine.
		}()
		s = <-ch
	}
	if s == nil {
		t.Fatal("no goroutine ran on a thread other than the main one")
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	defer s.stop()
	time.Sleep(200 * time.Millisecond) // the starting thread is gone by now
	fd, err := measure.Dial(port, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A server killed before it accepted leaves the connection in the
	// backlog unserved: wait for the echo with a deadline rather than hang.
	buf := []byte("12345678")
	if err := measure.WriteAll(fd, buf); err != nil {
		t.Fatal(err)
	}
	echoed := false
	for deadline := time.Now().Add(10 * time.Second); !echoed && time.Now().Before(deadline); {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 1000)
		echoed = err == nil && n > 0
	}
	if !echoed {
		t.Error("no echo from the server process within 10 s after its starting thread exited")
	} else if err := measure.ReadFull(fd, buf); err != nil || string(buf) != "12345678" {
		t.Errorf("echo from the server process after its starting thread exited: %q, %v", buf, err)
	}
	unix.Close(fd)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server process: %v, want a clean end when the client closes", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server process still running 30 s after the client closed")
	}
}
