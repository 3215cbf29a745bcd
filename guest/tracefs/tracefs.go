// Package tracefs drives the kernel's event tracer through tracefs: it finds
// or mounts tracefs, sizes the buffer, turns events and tracing on and off,
// and reads the trace in ftrace's text format. Every path is under a root
// given by the caller, so that it runs on a fake tree in tests.
package tracefs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Where tracefs is mounted: its own mount point, else inside debugfs.
const (
	Path      = "/sys/kernel/tracing"
	DebugPath = "/sys/kernel/debug/tracing"
)

// MountFunc mounts a filesystem of type fstype from source on dir
// (unix.Mount without flags or data).
type MountFunc func(source, dir, fstype string) error

// FS is a mounted tracefs.
type FS struct {
	// Dir is the tracefs directory (with tracing_on, trace, events/...).
	Dir string
}

// Open returns the tracefs at dir when one is there.
func Open(dir string) (*FS, error) {
	if _, err := os.Stat(filepath.Join(dir, "tracing_on")); err != nil {
		return nil, fmt.Errorf("tracefs: no tracing_on in %s: %w", dir, err)
	}
	return &FS{Dir: dir}, nil
}

// Find returns tracefs under root ("/" in the guest): at Path, mounting it
// there when it is not, else at DebugPath, mounting debugfs on its parent
// first when needed. The error says every way that failed.
func Find(root string, mount MountFunc) (*FS, error) {
	var errs []error
	try := func(dir string) *FS {
		fs, err := Open(dir)
		if err != nil {
			errs = append(errs, err)
		}
		return fs
	}
	dir := filepath.Join(root, Path)
	if fs := try(dir); fs != nil {
		return fs, nil
	}
	if err := mount("tracefs", dir, "tracefs"); err != nil {
		errs = append(errs, fmt.Errorf("tracefs: mount on %s: %w", dir, err))
	} else if fs := try(dir); fs != nil {
		return fs, nil
	}
	dir = filepath.Join(root, DebugPath)
	if fs := try(dir); fs != nil {
		return fs, nil
	}
	debug := filepath.Dir(dir)
	if err := mount("debugfs", debug, "debugfs"); err != nil {
		errs = append(errs, fmt.Errorf("tracefs: mount debugfs on %s: %w", debug, err))
	} else if fs := try(dir); fs != nil {
		return fs, nil
	}
	return nil, errors.Join(errs...)
}

// write writes value to a tracefs file that must exist (tracefs files are
// never created by writing).
func (t *FS) write(name, value string) error {
	f, err := os.OpenFile(filepath.Join(t.Dir, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("tracefs: %w", err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tracefs: write %q to %s: %w", value, name, err)
	}
	return nil
}

// Config is what a trace records.
type Config struct {
	// BufferKB is the ring buffer per CPU, in KiB; 0 leaves it as it is.
	BufferKB int
	// Events are SYSTEM/EVENT names ("sched/sched_switch").
	Events []string
	// Clock is the trace clock ("mono"); "" leaves it as it is. A clock the
	// kernel lacks is not an error.
	Clock string
}

// Setup is what Prepare did.
type Setup struct {
	Enabled []string // events turned on
	Missing []string // events the kernel does not have
}

// Prepare readies a trace without starting it: tracing off, every event
// off, the buffer sized, the trace cleared, then the events of c that
// exist turned on.
func (t *FS) Prepare(c Config) (Setup, error) {
	var s Setup
	if err := t.Off(); err != nil {
		return s, err
	}
	if err := t.disableAll(); err != nil {
		return s, err
	}
	if c.BufferKB > 0 {
		if err := t.write("buffer_size_kb", strconv.Itoa(c.BufferKB)); err != nil {
			return s, err
		}
	}
	if c.Clock != "" {
		t.write("trace_clock", c.Clock) // the default clock will do
	}
	if err := t.Clear(); err != nil {
		return s, err
	}
	for _, e := range c.Events {
		if !validEvent(e) {
			return s, fmt.Errorf("tracefs: bad event name %q (want SYSTEM/EVENT)", e)
		}
		enable := filepath.Join("events", e, "enable")
		if _, err := os.Stat(filepath.Join(t.Dir, enable)); errors.Is(err, fs.ErrNotExist) {
			s.Missing = append(s.Missing, e)
			continue
		}
		if err := t.write(enable, "1"); err != nil {
			return s, err
		}
		s.Enabled = append(s.Enabled, e)
	}
	return s, nil
}

func validEvent(e string) bool {
	sys, ev, ok := strings.Cut(e, "/")
	return ok && sys != "" && ev != "" && !strings.ContainsAny(ev, "/") && sys != ".." && ev != ".." && sys != "." && ev != "."
}

// disableAll turns every event off (events/enable); a tracefs without
// that file (none is enabled then) is fine.
func (t *FS) disableAll() error {
	if _, err := os.Stat(filepath.Join(t.Dir, "events", "enable")); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return t.write(filepath.Join("events", "enable"), "0")
}

// On starts recording.
func (t *FS) On() error { return t.write("tracing_on", "1") }

// Off stops recording; what was recorded stays in the buffer.
func (t *FS) Off() error { return t.write("tracing_on", "0") }

// Clear empties the buffer (opening trace for writing with truncation).
func (t *FS) Clear() error { return t.write("trace", "") }

// Mark writes a line into the trace (trace_marker) while recording.
func (t *FS) Mark(text string) error { return t.write("trace_marker", text) }

// Reset ends a trace: tracing off, events off, buffer cleared.
func (t *FS) Reset() error {
	return errors.Join(t.Off(), t.disableAll(), t.Clear())
}

// Read is what ReadTrace copied.
type Read struct {
	Bytes     int64 // of text written
	Events    int64 // lines that are not comments
	Truncated bool  // the trace went on past max
}

// ReadTrace copies the trace (the trace file: ftrace's text format, its
// header lines starting with #) to w, whole lines only and at most max bytes.
func (t *FS) ReadTrace(w io.Writer, max int64) (Read, error) {
	var r Read
	f, err := os.Open(filepath.Join(t.Dir, "trace"))
	if err != nil {
		return r, fmt.Errorf("tracefs: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: keep the rest with it.
			rest, rerr := br.ReadBytes('\n')
			line, err = append(append([]byte(nil), line...), rest...), rerr
		}
		if len(line) > 0 {
			if r.Bytes+int64(len(line)) > max {
				r.Truncated = true
				return r, nil
			}
			if _, werr := w.Write(line); werr != nil {
				return r, fmt.Errorf("tracefs: copy trace: %w", werr)
			}
			r.Bytes += int64(len(line))
			if isEvent(line) {
				r.Events++
			}
		}
		if err == io.EOF {
			return r, nil
		}
		if err != nil {
			return r, fmt.Errorf("tracefs: read trace: %w", err)
		}
	}
}

// isEvent tells an event line from a comment, a blank line or a note of
// lost events ("CPU:1 [LOST 12 EVENTS]").
func isEvent(line []byte) bool {
	line = bytes.TrimSpace(line)
	return len(line) > 0 && line[0] != '#' && !bytes.Contains(line, []byte("[LOST "))
}
