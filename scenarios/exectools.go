package scenarios

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kvet/kvet/internal/wire"
)

// ExecShell is the basename of the shell that runs script entries: busybox
// from the host's busybox-static package, copied into the image next to
// the programs.
const ExecShell = "busybox"

// ExecPath is where the program runs from: the copy under wire.ExecDir when
// there is one (in the guest), else the path as given (on a host).
func ExecPath(program string) string {
	g := filepath.Join(wire.ExecDir, filepath.Base(program))
	if _, err := os.Stat(g); err == nil {
		return g
	}
	return program
}

// execCommand builds the command of an exec entry and a short description
// of it for errors. In the guest it runs in wire.ExecDir with that
// directory first on PATH, so a script finds the entry's files by name.
func execCommand(ctx context.Context, env Env, p *ExecParams) (*exec.Cmd, string, error) {
	var cmd *exec.Cmd
	var what string
	if p.Script != "" {
		sh := ExecPath(ExecShell)
		if sh == ExecShell {
			var err error
			if sh, err = exec.LookPath(ExecShell); err != nil {
				return nil, "", fmt.Errorf("exec script: no %s to run it: %w", ExecShell, err)
			}
		}
		cmd = exec.CommandContext(ctx, sh, "sh", "-c", p.Script)
		what = "script " + execFirstLine(p.Script)
	} else {
		prog := ExecPath(p.Program)
		cmd = exec.CommandContext(ctx, prog, p.Args...)
		what = prog
	}
	cmd.Env = append(os.Environ(), bootEnv(env.Boot)...)
	if fi, err := os.Stat(wire.ExecDir); err == nil && fi.IsDir() {
		cmd.Dir = wire.ExecDir
		cmd.Env = append(cmd.Env, "PATH="+wire.ExecDir+":/bin:/usr/bin:/sbin:/usr/sbin")
	}
	return cmd, what, nil
}

func execFirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func execFormatName(f string) string {
	switch f {
	case FormatCyclictest:
		return "cyclictest JSON"
	case FormatSockperf:
		return "sockperf summary"
	case FormatKV:
		return "\"name value unit\""
	}
	return "Go benchmark"
}

// execOutput shows what the program printed, stderr then stdout, each as
// its head and tail: the first error line is usually the one that matters,
// the last says where it stopped.
func execOutput(stdout, stderr *bytes.Buffer) string {
	var parts []string
	if s := strings.TrimSpace(stderr.String()); s != "" {
		parts = append(parts, "stderr: "+execHeadTail(s, 1000, 1000))
	}
	if s := strings.TrimSpace(stdout.String()); s != "" {
		parts = append(parts, "stdout: "+execHeadTail(s, 1000, 1000))
	}
	if len(parts) == 0 {
		return "(nothing)"
	}
	return strings.Join(parts, "; ")
}

// execHeadTail keeps the first head and last tail bytes of s.
func execHeadTail(s string, head, tail int) string {
	if len(s) <= head+tail {
		return s
	}
	return s[:head] + fmt.Sprintf(" [... %d bytes ...] ", len(s)-head-tail) + s[len(s)-tail:]
}

// ResolvePaths makes the program and files absolute against dir (the matrix
// file's folder) and checks them on the host, so a mistake is reported with
// the matrix line instead of failing each kernel's boots: a program must be
// an executable file, and a script as program (#!) is refused, the guest
// having no /bin/sh; a script entry needs a static busybox on the host.
func (p *ExecParams) ResolvePaths(dir string) error {
	abs := func(f string) string {
		if f == "" || filepath.IsAbs(f) {
			return f
		}
		return filepath.Join(dir, f)
	}
	p.Program = abs(p.Program)
	for i := range p.Files {
		p.Files[i] = abs(p.Files[i])
		if _, err := os.Stat(p.Files[i]); err != nil {
			return fmt.Errorf("files: %w", err)
		}
	}
	if p.Program != "" {
		fi, err := os.Stat(p.Program)
		if err != nil {
			return fmt.Errorf("program: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("program %s: not an executable file", p.Program)
		}
		if interp, ok := execShebang(p.Program); ok {
			return fmt.Errorf("program %s is a script (#!%s) and the guest has no shell at that path: give it as script: (run by busybox sh), e.g. script: \"sh ./%s\" with the file in files:", p.Program, interp, filepath.Base(p.Program))
		}
	}
	if p.Script != "" {
		if _, err := HostShell(); err != nil {
			return fmt.Errorf("script: %w", err)
		}
	}
	return nil
}

// HostFiles are the host files the entry brings into the guest's
// wire.ExecDir: the program, the files, and the shell for a script.
func (p *ExecParams) HostFiles() ([]string, error) {
	var out []string
	if p.Program != "" {
		out = append(out, p.Program)
	}
	out = append(out, p.Files...)
	if p.Script != "" {
		sh, err := HostShell()
		if err != nil {
			return nil, fmt.Errorf("script: %w", err)
		}
		out = append(out, sh)
	}
	return out, nil
}

// HostShell finds the host's static busybox, the shell of script entries.
func HostShell() (string, error) {
	const hint = "script entries need a static busybox on the host (apt-get install busybox-static)"
	path, err := exec.LookPath(ExecShell)
	if err != nil {
		return "", errors.New(hint)
	}
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w; %s", path, err, hint)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked; %s", path, hint)
		}
	}
	return path, nil
}

// execShebang reports a file that starts with #! and its interpreter.
func execShebang(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	b := make([]byte, 128)
	n, _ := f.Read(b)
	b = b[:n]
	if !bytes.HasPrefix(b, []byte("#!")) {
		return "", false
	}
	line, _, _ := bytes.Cut(b[2:], []byte("\n"))
	return strings.TrimSpace(string(line)), true
}

// bootEnv tells an exec program which boot it runs in: KVET_KERNEL (the
// kernel's name in the matrix), KVET_BOOT (its boot index, from 0) and
// KVET_ATTEMPT (from 1; a boot run again to confirm a panic or hang, or
// after an infrastructure error, has a higher one). Outside a run's guest
// (kvet scenario on bare metal) there is no boot and nothing is set.
func bootEnv(b wire.BootID) []string {
	if b.Attempt == 0 {
		return nil
	}
	return []string{"KVET_KERNEL=" + b.Kernel, "KVET_BOOT=" + strconv.Itoa(b.Index), "KVET_ATTEMPT=" + strconv.Itoa(b.Attempt)}
}
