package images

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
)

// ErrNotStatic is wrapped by CheckStatic's error for a binary that needs a
// dynamic loader or shared libraries, which the initramfs does not have.
var ErrNotStatic = errors.New("not a static binary")

// BuildHint says how to build a kvet binary that can be the guest's /init.
const BuildHint = "CGO_ENABLED=0 go build -o kvet ./cmd/kvet"

// CheckStatic returns an error unless the file at path is a statically
// linked ELF executable: no program interpreter and no needed libraries.
func CheckStatic(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("init %s: not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("init %s: ELF type %s is not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("init %s: %w (it asks for a dynamic loader); the guest's /init must be static: build kvet with %s", path, ErrNotStatic, BuildHint)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("init %s: %w", path, err)
	}
	if len(libs) > 0 {
		return fmt.Errorf("init %s: %w (it needs %v); the guest's /init must be static: build kvet with %s", path, ErrNotStatic, libs, BuildHint)
	}
	return nil
}
