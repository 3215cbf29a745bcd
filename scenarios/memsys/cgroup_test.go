package memsys

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePressure(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Pressure
		wantErr string // substring of the error; "" for none
	}{
		{"some and full",
			"some avg10=0.00 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=567\n",
			Pressure{Some: 1234, Full: 567}, ""},
		{"averages not zero",
			"some avg10=12.50 avg60=3.01 avg300=0.77 total=98765432\nfull avg10=1.00 avg60=0.20 avg300=0.05 total=4321\n",
			Pressure{Some: 98765432, Full: 4321}, ""},
		// /proc/pressure/cpu had no full line before Linux 5.13.
		{"some only", "some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n", Pressure{Some: 42}, ""},
		{"no trailing newline, blank lines", "\nsome avg10=0.00 total=5\n\nfull avg10=0.00 total=6", Pressure{Some: 5, Full: 6}, ""},
		{"no total", "some avg10=0.00 avg60=0.00 avg300=0.00\n", Pressure{}, "no total"},
		{"no total on the full line", "some avg10=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00\n", Pressure{}, "no total"},
		{"bad number", "some avg10=0.00 avg60=0.00 avg300=0.00 total=12x4\n", Pressure{}, "bad total"},
		{"empty total", "some avg10=0.00 total=\n", Pressure{}, "bad total"},
		{"empty", "", Pressure{}, "no some or full"},
		{"neither some nor full", "other avg10=0.00 total=5\n", Pressure{}, "no some or full"},
	}
	for _, tt := range tests {
		got, err := parsePressure(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s: parsePressure = %+v, %v; want %+v", tt.name, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: parsePressure error = %v, want one saying %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestReadPressure(t *testing.T) {
	dir := t.TempDir()
	c := &Cgroup{Path: dir}
	if _, err := c.Pressure(); err == nil || !strings.Contains(err.Error(), "CONFIG_PSI") {
		t.Errorf("Pressure() without memory.pressure: error %v, want one pointing at CONFIG_PSI", err)
	}
	os.WriteFile(filepath.Join(dir, "memory.pressure"), []byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n"), 0o644)
	if p, err := c.Pressure(); err != nil || p != (Pressure{Some: 10, Full: 3}) {
		t.Errorf("Pressure() = %+v, %v; want {10 3}", p, err)
	}
}

func TestPressureSub(t *testing.T) {
	after, before := Pressure{Some: 1500, Full: 700}, Pressure{Some: 1000, Full: 650}
	if got, want := after.Sub(before), (Pressure{Some: 500, Full: 50}); got != want {
		t.Errorf("%+v.Sub(%+v) = %+v, want %+v", after, before, got, want)
	}
	if got, want := before.Sub(after), (Pressure{Some: -500, Full: -50}); got != want {
		t.Errorf("%+v.Sub(%+v) = %+v, want %+v", before, after, got, want)
	}
}

func TestReadKeyed(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"memory.events": "low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
		// memory.stat; a line without a value, one with a word for a
		// value and stray spaces are not fatal.
		"memory.stat": "anon 1048576\nfile 4096\n  shmem   8192  \nlonely\nname word\nworkingset_refault_anon 77",
	}
	for name, s := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644)
	}
	c := &Cgroup{Path: dir}
	tests := []struct {
		file string
		want map[string]int64
	}{
		{"memory.events", map[string]int64{"low": 0, "high": 12, "max": 3, "oom": 1, "oom_kill": 1, "oom_group_kill": 0}},
		{"memory.stat", map[string]int64{"anon": 1 << 20, "file": 4096, "shmem": 8192, "workingset_refault_anon": 77}},
	}
	for _, tt := range tests {
		got, err := c.Keyed(tt.file)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Keyed(%s) = %v, %v; want %v", tt.file, got, err, tt.want)
		}
	}
	if _, err := c.Keyed("missing"); err == nil {
		t.Errorf("Keyed(missing): no error")
	}
}

func TestCgroupInt(t *testing.T) {
	dir := t.TempDir()
	for name, s := range map[string]string{
		"memory.current":     "1234567\n",
		"memory.max":         "max\n",
		"memory.swap.max":    "0",
		"memory.low":         "12 MiB\n",
		"memory.swap.events": "",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644)
	}
	c := &Cgroup{Path: dir}
	tests := []struct {
		file    string
		want    int64
		wantErr bool
	}{
		{"memory.current", 1234567, false},
		{"memory.max", -1, false},
		{"memory.swap.max", 0, false},
		{"memory.low", 0, true},
		{"memory.swap.events", 0, true},
		{"missing", 0, true},
	}
	for _, tt := range tests {
		got, err := c.Int(tt.file)
		if tt.wantErr {
			// The error names the file, so a report says which counter.
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.file)) {
				t.Errorf("Int(%s) = %d, %v; want an error naming %s", tt.file, got, err, filepath.Join(dir, tt.file))
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Int(%s) = %d, %v; want %d", tt.file, got, err, tt.want)
		}
	}
}

func TestCgroupProcs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte("12\n345\n6789\n"), 0o644)
	got, err := (&Cgroup{Path: dir}).Procs()
	if want := []int{12, 345, 6789}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Procs() = %v, %v; want %v", got, err, want)
	}
}
