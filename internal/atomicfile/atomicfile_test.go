package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "f.json")
	for _, data := range []string{"old", "new"} {
		if err := Write(path, []byte(data)); err != nil {
			t.Fatalf("Write(%q) = %v", data, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new" {
		t.Errorf("after two writes: %q, %v; want new", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("the directory holds %d entries, want the file alone (no temporary left)", len(ents))
	}
	if err := Write(filepath.Join(path, "under-a-file"), nil); err == nil {
		t.Errorf("Write under a file = nil, want an error")
	}
}
