package images

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/u-root/u-root/pkg/ldd"

	"github.com/kvet/kvet/internal/wire"
)

// ExecFiles returns what the guest needs to run program: the program itself
// at wire.ExecDir/<basename>, and for a dynamically linked program the dynamic
// loader and every shared library it loads, each at the absolute path the
// loader resolves it to on the host, so the guest's loader finds them at
// the same place without an ld.so.cache.
func ExecFiles(program string) ([]File, error) {
	abs, err := filepath.Abs(program)
	if err != nil {
		return nil, fmt.Errorf("exec program %s: %w", program, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("exec program: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("exec file %s: not a regular file", abs)
	}
	dst := filepath.Join(wire.ExecDir, filepath.Base(abs))
	if fi.Mode().Perm()&0o111 == 0 || !isELF(abs) {
		// Data, or a script run by the shell: the file alone.
		return []File{{Src: abs, Dst: dst}}, nil
	}
	// ldd runs the program's own loader in list mode; a static program has
	// no loader and no libraries.
	libs, err := ldd.List(abs)
	if err != nil {
		return nil, fmt.Errorf("exec program %s: shared libraries: %w", abs, err)
	}
	sort.Strings(libs)
	files := []File{{Src: abs, Dst: dst}}
	for _, lib := range libs {
		// The library is read through its symlinks but lands at the path
		// the loader looks for.
		src, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return nil, fmt.Errorf("exec program %s: library %s: %w", abs, lib, err)
		}
		files = append(files, File{Src: src, Dst: lib})
	}
	return files, nil
}

// isELF reports whether the file starts with the ELF magic.
func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 4)
	n, _ := f.Read(b)
	return n == 4 && string(b) == "\x7fELF"
}
