package matrix

import (
	"fmt"
	"net/url"
	"strings"
)

// MaxKernels bounds a matrix's kernel entries: a plan of this many kernels
// at the default boots is already days of TCG boots, and a bound keeps a
// runaway generated file from exhausting memory before anything is checked.
const MaxKernels = 1000

// MaxMatrixBytes bounds a matrix file's size for the same reason.
const MaxMatrixBytes = 4 << 20

// Ranges of the settings a flag can override too; both are checked
// against these.
const (
	MaxBoots  = 1000
	MaxCPUs   = 64
	MinMemory = 128 // MiB
)

// explicitZero refuses 0 written out for fields whose 0 would otherwise
// silently mean "the default": the same ranges hold for a flag and a YAML
// value.
func (m *Matrix) explicitZero(ln lines) error {
	for _, f := range []struct {
		key   string
		value int
		rng   string
	}{
		{"boots", int(m.Boots), "out of range 1..1000 (or auto)"},
		{"round", m.Round, "out of range 2..max_boots"},
		{"max_boots", m.MaxBoots, "out of range 2..1000"},
		{"budget", int(m.Budget), "not positive"},
		{"cpus", m.CPUs, "out of range 1..64"},
		{"memory", m.Memory, "too little (at least 128 MiB)"},
		{"timeout", int(m.Timeout), "not positive"},
	} {
		if line, set := ln.top[f.key]; set && f.value == 0 {
			return &Error{File: m.File, Line: line, Msg: fmt.Sprintf("%s: 0 is %s (leave %s out for the default)", f.key, f.rng, f.key)}
		}
	}
	return nil
}

// CheckMirror validates mirror: as an http or https URL with a host.
func CheckMirror(mirror string) error {
	if mirror == "" {
		return nil
	}
	u, err := url.Parse(mirror)
	if err != nil {
		return fmt.Errorf("mirror: %q is not a URL: %v", mirror, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.ContainsAny(mirror, " \t\n") {
		return fmt.Errorf("mirror: %q: want an http:// or https:// URL with a host", mirror)
	}
	return nil
}
