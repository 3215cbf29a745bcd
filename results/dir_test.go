package results

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	tests := []struct {
		name string
		data []string // written in turn; the last one must be on disk
	}{
		{"new file", []string{"one"}},
		{"replaced", []string{"one", "two"}},
		{"in a new directory", []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "sub", "report.md")
			for _, d := range tc.data {
				if err := WriteFileAtomic(p, []byte(d)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != tc.data[len(tc.data)-1] {
				t.Errorf("WriteFileAtomic(%s) left %q (%v), want %q", p, got, err, tc.data[len(tc.data)-1])
			}
			st, err := os.Stat(p)
			if err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("WriteFileAtomic(%s) mode = %v (%v), want -rw-r--r--", p, st.Mode().Perm(), err)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "sub", ".*tmp*"))
			if len(left) != 0 {
				t.Errorf("WriteFileAtomic left temporary files %v", left)
			}
		})
	}
}
