package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kvet/kvet/internal/atomicfile"
)

// File names inside a run directory.
const (
	RunFile    = "run.json"
	BootsDir   = "boots"
	ConsoleDir = "console"
)

// BootKey names a boot inside a run: "KERNEL#INDEX".
func BootKey(kernel string, index int) string { return fmt.Sprintf("%s#%d", kernel, index) }

// BootFile is the path of a boot's file relative to the run directory.
func BootFile(kernel string, index int) string {
	return filepath.Join(BootsDir, fmt.Sprintf("%s.%03d.json", safeName(kernel), index))
}

// ConsoleFile is the path of a boot's console log relative to the run directory.
func ConsoleFile(kernel string, index int) string {
	return filepath.Join(ConsoleDir, fmt.Sprintf("%s.%03d.log", safeName(kernel), index))
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '+':
			return r
		}
		return '_'
	}, s)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see the old file or the whole new one.
func WriteFileAtomic(path string, data []byte) error { return atomicfile.Write(path, data) }

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// ErrBootExists is returned when a finished boot would be rewritten.
var ErrBootExists = errors.New("boot already recorded")

// Dir is a run directory.
type Dir struct {
	Path string
}

// CreateDir makes a new run directory and writes run.json. It refuses a
// directory that already holds a run.
func CreateDir(path string, run *Run) (*Dir, error) {
	if _, err := os.Stat(filepath.Join(path, RunFile)); err == nil {
		return nil, fmt.Errorf("run directory %s: already holds a run (use --resume to continue it)", path)
	}
	for _, d := range []string{path, filepath.Join(path, BootsDir), filepath.Join(path, ConsoleDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		}
	}
	run.Schema = SchemaVersion
	if err := writeJSONAtomic(filepath.Join(path, RunFile), run); err != nil {
		return nil, fmt.Errorf("run directory %s: %w", path, err)
	}
	return &Dir{Path: path}, nil
}

// OpenDir opens an existing run directory.
func OpenDir(path string) (*Dir, *Run, error) {
	b, err := os.ReadFile(filepath.Join(path, RunFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: not a kvet run directory (no %s)", path, RunFile)
		}
		return nil, nil, err
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(path, RunFile), err)
	}
	if run.Schema != SchemaVersion {
		return nil, nil, fmt.Errorf("%s: schema version %d, this kvet reads %d", filepath.Join(path, RunFile), run.Schema, SchemaVersion)
	}
	return &Dir{Path: path}, &run, nil
}

// WriteBoot records a finished boot atomically. A boot already on disk is
// never rewritten (ErrBootExists).
func (d *Dir) WriteBoot(b *Boot) error {
	b.Schema = SchemaVersion
	p := filepath.Join(d.Path, BootFile(b.Kernel, b.Index))
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%s: %w", p, ErrBootExists)
	}
	return writeJSONAtomic(p, b)
}

// HasBoot reports whether the boot is recorded.
func (d *Dir) HasBoot(kernel string, index int) bool {
	_, err := os.Stat(filepath.Join(d.Path, BootFile(kernel, index)))
	return err == nil
}

// Boots reads every recorded boot, ordered by plan position.
func (d *Dir) Boots() ([]*Boot, error) {
	files, err := filepath.Glob(filepath.Join(d.Path, BootsDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var boots []*Boot
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var b Boot
		if err := json.Unmarshal(data, &b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		boots = append(boots, &b)
	}
	sort.Slice(boots, func(i, j int) bool { return boots[i].Seq < boots[j].Seq })
	return boots, nil
}

// WriteFile writes a named file (a report, the comparison) atomically.
func (d *Dir) WriteFile(name string, data []byte) error {
	return WriteFileAtomic(filepath.Join(d.Path, name), data)
}
