package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvet/kvet/internal/wire"
)

func TestExecFilesDynamic(t *testing.T) {
	prog, err := exec.LookPath("true")
	if err != nil {
		t.Skipf("no true(1): %v", err)
	}
	prog, _ = filepath.EvalSymlinks(prog)
	files, err := ExecFiles(prog)
	if err != nil {
		t.Fatalf("ExecFiles(%s) error %v", prog, err)
	}
	if len(files) == 0 || files[0].Dst != wire.ExecDir+"/"+filepath.Base(prog) || files[0].Src != prog {
		t.Fatalf("ExecFiles(%s)[0] = %+v, want the program at %s/%s", prog, files, wire.ExecDir, filepath.Base(prog))
	}
	var libc, loader bool
	for _, f := range files[1:] {
		base := filepath.Base(f.Dst)
		libc = libc || strings.HasPrefix(base, "libc.so")
		loader = loader || strings.HasPrefix(base, "ld-linux")
		if !filepath.IsAbs(f.Dst) {
			t.Errorf("ExecFiles(%s): library destination %q is not absolute", prog, f.Dst)
		}
		if fi, err := os.Lstat(f.Src); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("ExecFiles(%s): library source %q is not a regular file (%v)", prog, f.Src, err)
		}
	}
	t.Logf("ExecFiles(%s) = %+v", prog, files)
	if !libc || !loader {
		t.Errorf("ExecFiles(%s) = %+v, want libc and ld-linux among them", prog, files)
	}
}

func TestExecFilesStatic(t *testing.T) {
	bin := staticBinary(t)
	files, err := ExecFiles(bin)
	if err != nil {
		t.Fatalf("ExecFiles(static) error %v", err)
	}
	if len(files) != 1 || files[0].Dst != wire.ExecDir+"/"+filepath.Base(bin) {
		t.Errorf("ExecFiles(static) = %+v, want only the program", files)
	}
}

func TestExecFilesErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing"), dir} {
		if files, err := ExecFiles(p); err == nil {
			t.Errorf("ExecFiles(%s) = %+v, want an error", p, files)
		}
	}
	// A data file (or a script for the shell) travels alone.
	files, err := ExecFiles(plain)
	if err != nil || len(files) != 1 || files[0].Dst != wire.ExecDir+"/plain" {
		t.Errorf("ExecFiles(data) = %+v, %v; want the file alone at %s/plain", files, err, wire.ExecDir)
	}
}
