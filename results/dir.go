package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kvet/kvet/internal/atomicfile"
)

// File names inside a run directory.
const (
	RunFile    = "run.json"
	BootsDir   = "boots"
	ConsoleDir = "console"
	// TracesDir holds the traced boots, each with its console and its
	// scenarios' traces.
	TracesDir = "traces"
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

// TracedBootFile is the path of a traced boot's file relative to the run
// directory: traced boots are kept apart from the measurement boots.
func TracedBootFile(kernel string, index int) string {
	return filepath.Join(TracesDir, fmt.Sprintf("%s.%03d.json", safeName(kernel), index))
}

// TracedConsoleFile is the path of a traced boot's console log.
func TracedConsoleFile(kernel string, index int) string {
	return filepath.Join(TracesDir, fmt.Sprintf("%s.%03d.log", safeName(kernel), index))
}

// TraceFileName is the path of a scenario's trace from a traced boot,
// relative to the run directory: gzip'd ftrace text, as Perfetto opens it.
func TraceFileName(kernel string, index int, scenario string) string {
	return filepath.Join(TracesDir, fmt.Sprintf("%s.%03d.%s.trace.gz", safeName(kernel), index, safeName(scenario)))
}

// File is the path of the entry's boot file relative to the run directory.
func (e PlanEntry) File() string {
	if e.Trace {
		return TracedBootFile(e.Kernel, e.Index)
	}
	return BootFile(e.Kernel, e.Index)
}

// Console is the path of the entry's console log relative to the run
// directory.
func (e PlanEntry) Console() string {
	if e.Trace {
		return TracedConsoleFile(e.Kernel, e.Index)
	}
	return ConsoleFile(e.Kernel, e.Index)
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

// ErrRunExists is CreateDir's refusal of a directory that holds a run.
var ErrRunExists = errors.New("already holds a run (use --resume to continue it)")

// CreateDir makes a new run directory and writes run.json. It refuses a
// directory that already holds a run (ErrRunExists); when it fails, it
// leaves nothing it made behind.
func CreateDir(path string, run *Run) (d *Dir, err error) {
	if _, err := os.Stat(filepath.Join(path, RunFile)); err == nil {
		return nil, fmt.Errorf("run directory %s: %w", path, ErrRunExists)
	}
	defer undoMkdirs(path, &err)()
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

// WriteBoot records a finished boot atomically, a traced boot among the
// traces. A boot already on disk is never rewritten (ErrBootExists).
func (d *Dir) WriteBoot(b *Boot) error {
	b.Schema = SchemaVersion
	e := PlanEntry{Kernel: b.Kernel, Index: b.Index, Trace: b.Traced}
	p := filepath.Join(d.Path, e.File())
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%s: %w", p, ErrBootExists)
	}
	if b.Traced {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
	}
	return writeJSONAtomic(p, b)
}

// HasBoot reports whether the measurement boot is recorded.
func (d *Dir) HasBoot(kernel string, index int) bool {
	return d.Has(PlanEntry{Kernel: kernel, Index: index})
}

// Has reports whether the entry's boot is recorded.
func (d *Dir) Has(e PlanEntry) bool {
	_, err := os.Stat(filepath.Join(d.Path, e.File()))
	return err == nil
}

// Boots reads every recorded measurement boot, ordered by plan position:
// traced boots are not among them (see TracedBoots).
func (d *Dir) Boots() ([]*Boot, error) {
	boots, err := d.readBoots(BootsDir)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(boots, func(b *Boot) bool { return b.Traced }), nil
}

// TracedBoots reads every recorded traced boot, ordered by plan position.
func (d *Dir) TracedBoots() ([]*Boot, error) {
	boots, err := d.readBoots(TracesDir)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(boots, func(b *Boot) bool { return !b.Traced }), nil
}

func (d *Dir) readBoots(dir string) ([]*Boot, error) {
	files, err := filepath.Glob(filepath.Join(d.Path, dir, "*.json"))
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

// undoMkdirs notes which of a run directory's parts do not exist yet and
// returns a function that, when *err is set, removes those that were made.
func undoMkdirs(path string, err *error) func() {
	var fresh []string
	for _, d := range []string{filepath.Join(path, BootsDir), filepath.Join(path, ConsoleDir), path} {
		if _, statErr := os.Stat(d); statErr != nil {
			fresh = append(fresh, d)
		}
	}
	return func() {
		if *err == nil {
			return
		}
		for _, d := range fresh {
			os.Remove(d) // only if empty: nothing of anyone else's goes
		}
	}
}
