package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Merge combines shard run directories into one run at out. The shards must
// come from the same matrix, plan and host kind; every boot must appear at
// most once. Traced boots come along with their traces. Nothing is written
// when they are inconsistent.
func Merge(out string, shards []string) (*Run, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("merge: no shard directories")
	}
	var first *Run
	type src struct {
		dir  *Dir
		boot *Boot
	}
	seen := map[string]string{}
	var all []src
	for _, path := range shards {
		d, run, err := OpenDir(path)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		if first == nil {
			first = run
		} else if err := sameRun(first, run); err != nil {
			return nil, fmt.Errorf("merge: %s and %s are not shards of one run: %w", shards[0], path, err)
		}
		boots, err := d.Boots()
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		traced, err := d.TracedBoots()
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		for _, b := range append(boots, traced...) {
			key := b.Key()
			if b.Traced {
				key = "traced boot " + key
			}
			if other, dup := seen[key]; dup {
				return nil, fmt.Errorf("merge: boot %s is in both %s and %s", key, other, path)
			}
			seen[key] = path
			all = append(all, src{d, b})
		}
	}
	merged := *first
	merged.Shard = ""
	d, err := CreateDir(out, &merged)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	for _, s := range all {
		files := []string{s.boot.ConsoleFile}
		for _, tr := range s.boot.Traces {
			files = append(files, tr.File)
		}
		for _, f := range files {
			if f == "" {
				continue
			}
			if data, err := os.ReadFile(filepath.Join(s.dir.Path, f)); err == nil {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(out, f)), 0o755); err != nil {
					return nil, fmt.Errorf("merge: %w", err)
				}
				if err := WriteFileAtomic(filepath.Join(out, f), data); err != nil {
					return nil, fmt.Errorf("merge: %w", err)
				}
			}
		}
		if err := d.WriteBoot(s.boot); err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
	}
	return &merged, nil
}

// sameRun checks that two run.json files describe the same matrix run.
func sameRun(a, b *Run) error {
	eq := func(x, y any) bool {
		bx, _ := json.Marshal(x)
		by, _ := json.Marshal(y)
		return bytes.Equal(bx, by)
	}
	switch {
	case a.ID != b.ID:
		return fmt.Errorf("run ids differ (%s, %s)", a.ID, b.ID)
	case !eq(a.Kernels, b.Kernels):
		return fmt.Errorf("kernels differ")
	case a.Seed != b.Seed || !eq(a.Plan, b.Plan):
		return fmt.Errorf("plans differ")
	case a.Boots != b.Boots || a.Profile != b.Profile || a.Baseline != b.Baseline:
		return fmt.Errorf("boots, profile or baseline differ")
	case a.Matrix != b.Matrix:
		return fmt.Errorf("matrices differ")
	case a.Accel != b.Accel:
		return fmt.Errorf("accelerators differ (%s, %s)", a.Accel, b.Accel)
	}
	return nil
}
