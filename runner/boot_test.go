package runner

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

func wirePlan() wire.Plan {
	return wire.Plan{Seed: 7, Profile: "quick", Scenarios: []wire.Invocation{{Name: "timer"}}}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestArgs(t *testing.T) {
	base := BootSpec{Kernel: "/k/vmlinuz", Initrd: "/i/initrd", ConsolePath: "/c/console.log"}
	tests := []struct {
		name string
		spec func(BootSpec) BootSpec
		want [][]string // runs of consecutive arguments that must appear
		not  []string   // substrings no argument may contain
	}{
		{"defaults", func(s BootSpec) BootSpec { return s }, [][]string{
			{"-S", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"},
			{"-machine", "q35"},
			{"-accel", "tcg", "-cpu", "max"},
			{"-smp", "2", "-m", "1024"},
			{"-kernel", "/k/vmlinuz", "-initrd", "/i/initrd"},
			{"-append", BaseCmdline},
			{"-chardev", "file,id=console,path=/c/console.log", "-serial", "chardev:console"},
			{"-device", "pvpanic"},
			{"-qmp", "unix:/w/qmp,server=on,wait=off"},
			{"-device", "virtio-serial-pci,id=vser0"},
			{"-chardev", "socket,id=kvet0,path=/w/port"},
			{"-device", "virtserialport,bus=vser0.0,chardev=kvet0,name=org.kvet.0"},
		}, []string{"kvm", "server=on,wait=off,", "scratch"}},
		{"kvm", func(s BootSpec) BootSpec { s.Accel = "kvm"; return s },
			[][]string{{"-accel", "kvm", "-cpu", "host,-arch-capabilities"}}, []string{"tcg"}},
		{"sizes", func(s BootSpec) BootSpec { s.CPUs, s.MemoryMB = 4, 2048; return s },
			[][]string{{"-smp", "4", "-m", "2048"}}, nil},
		{"append after the base", func(s BootSpec) BootSpec { s.Append = " rdinit=/x  preempt=full "; return s },
			[][]string{{"-append", BaseCmdline + " rdinit=/x  preempt=full"}}, nil},
		{"scratch disk", func(s BootSpec) BootSpec { s.ScratchDiskMB, s.ScratchPath = 512, "/w/scratch.img"; return s },
			[][]string{{"-drive", "file=/w/scratch.img,if=none,id=scratch,format=raw,cache=unsafe,discard=unmap", "-device", "virtio-blk-pci,drive=scratch,serial=kvet-scratch"}}, nil},
		{"comma in a path", func(s BootSpec) BootSpec { s.ConsolePath = "/a,b/c"; return s },
			[][]string{{"-chardev", "file,id=console,path=/a,,b/c"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := Args(tt.spec(base), "/w/qmp", "/w/port")
			for _, w := range tt.want {
				found := false
				for i := 0; i+len(w) <= len(args) && !found; i++ {
					found = slices.Equal(args[i:i+len(w)], w)
				}
				if !found {
					t.Errorf("Args() = %q, want it to contain %q", args, w)
				}
			}
			for _, n := range tt.not {
				for _, a := range args {
					if strings.Contains(a, n) {
						t.Errorf("Args() has %q, want no %q", a, n)
					}
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	panicConsole := "[    1.2] Run /nonexistent as init process\n[    1.3] Kernel panic - not syncing: No working init found.\n[    1.4] CPU: 0 PID: 1\n"
	tests := []struct {
		name string
		ev   Evidence
		want results.Outcome
		why  string
	}{
		{"ok", Evidence{Hello: true, Done: true, Events: []string{"SHUTDOWN:guest-shutdown"}, Exited: true}, results.OK, ""},
		{"ok, killed after done", Evidence{Hello: true, Done: true}, results.OK, ""},
		{"interrupted wins", Evidence{Interrupted: true, Done: true}, results.InfraError, "interrupted"},
		{"qemu missing", Evidence{StartErr: errors.New(`start qemu: exec: "qemu": not found`)}, results.InfraError, "not found"},
		{"pvpanic", Evidence{Events: []string{"GUEST_PANICKED", "SHUTDOWN:guest-reset"}, Console: "boot\n"}, results.KernelPanic, "pvpanic"},
		{"panic on console, reset", Evidence{Events: []string{"SHUTDOWN:guest-reset"}, Exited: true, Console: panicConsole}, results.KernelPanic, "Kernel panic - not syncing: No working init found."},
		{"reset without panic", Evidence{Events: []string{"SHUTDOWN:guest-reset"}, Exited: true, Console: "boot\n"}, results.AgentError, "guest reset"},
		{"timeout", Evidence{Timeout: 30 * time.Second, Console: "[ 1.0] tsc: Detected 2000 MHz\n\n"}, results.Hang, "30s; last console line: [ 1.0] tsc: Detected 2000 MHz"},
		{"timeout after hello", Evidence{Hello: true, Timeout: time.Minute}, results.Hang, "no done frame within 1m0s"},
		{"broken kvm stop", Evidence{Events: []string{"STOP"}, Status: "internal-error", Console: "Decompressing"}, results.InfraError, "vm stopped (internal-error); last console line: Decompressing"},
		{"broken kvm stop, stderr", Evidence{Events: []string{"RESUME", "STOP"}, Status: "internal-error", Stderr: "KVM internal error. Suberror: 1\nextra data[0]: 0x0\nRAX=0\n"}, results.InfraError, "(internal-error): qemu: KVM internal error. Suberror: 1;"},
		{"power off without done", Evidence{Hello: true, Events: []string{"SHUTDOWN:guest-shutdown"}, Exited: true}, results.AgentError, "without a done"},
		{"corrupt frame", Evidence{FrameErr: wire.ErrCorrupt, Events: []string{"SHUTDOWN:guest-shutdown"}, Exited: true}, results.AgentError, "corrupt"},
		{"corrupt frame then done", Evidence{FrameErr: wire.ErrCorrupt, Done: true}, results.AgentError, "corrupt"},
		{"error frame", Evidence{Done: true, AgentErrors: []string{"mount /proc: EPERM"}}, results.AgentError, "mount /proc"},
		{"scenario error", Evidence{Done: true, ScenarioErrors: []string{"timer: sched_setattr: EPERM"}}, results.AgentError, "timer: sched_setattr"},
		{"qemu failed by itself", Evidence{Exited: true, ExitErr: errors.New("exit status 1"), Stderr: "qemu: could not load kernel\n"}, results.InfraError, "exit status 1: qemu: could not load kernel"},
		{"qemu exited 0 alone", Evidence{Exited: true}, results.InfraError, "without a guest shutdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Classify(tt.ev)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("Classify(%+v) = %s %q, want %s %q", tt.ev, got, why, tt.want, tt.why)
			}
		})
	}
}

// standIn writes a script that plays QEMU: it records its pid and its
// child's pid, then runs body.
func standIn(t *testing.T, body string) (path, pids string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "qemu")
	pids = filepath.Join(dir, "pids")
	script := "#!/bin/sh\necho $$ > " + pids + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, pids
}

// gone fails the test if any pid listed in file is still alive.
func gone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("stand-in did not run: %v", err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		if pid <= 0 {
			continue
		}
		// SIGKILL takes effect asynchronously: a killed process may still be
		// on its way out (state R) for a moment on a busy host.
		var st []byte
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			st, err = os.ReadFile("/proc/" + f + "/stat")
			// A dead process reparented to an init that does not reap stays
			// a zombie: it is gone all the same.
			if _, rest, _ := strings.Cut(string(st), ") "); err != nil || strings.HasPrefix(rest, "Z") {
				st = nil
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
		if st != nil {
			t.Errorf("process %d still exists: %s", pid, st)
		}
	}
}

func TestBootProcessHygiene(t *testing.T) {
	tests := []struct {
		name    string
		body    string // stand-in script; "" for a missing binary
		timeout time.Duration
		cancel  time.Duration // cancel ctx after this, 0 never
		want    string        // substring of the reason
		maxTook time.Duration
	}{
		{"timeout kills it", "sleep 30 & echo $! >> $0.pids; wait", 1 * time.Second, 0, "qmp socket did not appear within 1s", 10 * time.Second},
		{"cancel kills it", "sleep 30 & echo $! >> $0.pids; wait", time.Minute, 500 * time.Millisecond, "interrupted", 10 * time.Second},
		{"exits at once", "echo 'qemu: bad option' >&2; exit 1", time.Minute, 0, "qemu exited at start: exit status 1: qemu: bad option", 10 * time.Second},
		{"ignores SIGTERM", "trap '' TERM; sleep 30 & echo $! >> $0.pids; while :; do wait; done", 1 * time.Second, 0, "did not appear", 15 * time.Second},
		{"missing binary", "", time.Minute, 0, "start qemu", 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qemu, pids := filepath.Join(t.TempDir(), "no-such-qemu"), ""
			if tt.body != "" {
				qemu, pids = standIn(t, strings.ReplaceAll(tt.body, "$0.pids", "PIDS"))
				// The script appends its child's pid to the same file.
				b, _ := os.ReadFile(qemu)
				os.WriteFile(qemu, []byte(strings.ReplaceAll(string(b), "PIDS", pids)), 0o755)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			start := time.Now()
			b := Boot(ctx, BootSpec{QEMU: qemu, Kernel: "/nonexistent", Initrd: "/nonexistent", Timeout: tt.timeout, WorkDir: t.TempDir(), Logger: testLogger(t)})
			took := time.Since(start)
			if b.Outcome != results.InfraError || !strings.Contains(b.Reason, tt.want) {
				t.Errorf("Boot() = %s %q, want infra-error %q", b.Outcome, b.Reason, tt.want)
			}
			if took > tt.maxTook {
				t.Errorf("Boot() took %v, want under %v", took, tt.maxTook)
			}
			if pids != "" {
				gone(t, pids)
			}
		})
	}
}

func TestBootLongWorkDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	qemu, _ := standIn(t, "exit 3")
	b := Boot(context.Background(), BootSpec{QEMU: qemu, WorkDir: dir, Timeout: 10 * time.Second})
	if !strings.Contains(b.Reason, "exit status 3") {
		t.Errorf("Boot(long work dir) = %s %q, want QEMU started and exiting with status 3", b.Outcome, b.Reason)
	}
}

func TestBootCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	qemu, pids := standIn(t, "sleep 30")
	b := Boot(ctx, BootSpec{QEMU: qemu, WorkDir: t.TempDir()})
	if b.Outcome != results.InfraError || b.Reason != "interrupted" {
		t.Errorf("Boot(cancelled) = %s %q, want infra-error interrupted", b.Outcome, b.Reason)
	}
	if _, err := os.Stat(pids); err == nil {
		t.Errorf("Boot(cancelled) started the stand-in")
	}
}

func TestChooseAccelTCG(t *testing.T) {
	accel, warn, err := ChooseAccel(context.Background(), "tcg", BootSpec{})
	if accel != "tcg" || warn != "" || err != nil {
		t.Errorf("ChooseAccel(tcg) = %q, %q, %v; want tcg", accel, warn, err)
	}
	if _, _, err := ChooseAccel(context.Background(), "hvf", BootSpec{}); err == nil {
		t.Errorf("ChooseAccel(hvf) error = nil, want one")
	}
}
