package memsys

import (
	"fmt"
	"os"
	"strings"
)

// Knob is a kernel setting in a file (/proc/sys/vm/swappiness,
// /sys/kernel/mm/lru_gen/enabled) set for a scenario and restored after.
type Knob struct {
	Path string
	old  string
	set  bool
}

// Set writes value, keeping what was there for Restore.
func (k *Knob) Set(value string) error {
	b, err := os.ReadFile(k.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", k.Path, err)
	}
	if !k.set {
		k.old, k.set = strings.TrimSpace(string(b)), true
	}
	if err := os.WriteFile(k.Path, []byte(value), 0); err != nil {
		return fmt.Errorf("%s = %s: %w", k.Path, value, err)
	}
	return nil
}

// Restore writes back what Set found.
func (k *Knob) Restore() error {
	if !k.set {
		return nil
	}
	k.set = false
	return os.WriteFile(k.Path, []byte(k.old), 0)
}

// Read reads the file, trimmed.
func Read(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// Paths of the memory settings the scenarios and facts read.
const (
	SwappinessPath  = "/proc/sys/vm/swappiness"
	PageClusterPath = "/proc/sys/vm/page-cluster"
	MGLRUPath       = "/sys/kernel/mm/lru_gen/enabled"
	ZswapPath       = "/sys/module/zswap/parameters/enabled"
	THPPath         = "/sys/kernel/mm/transparent_hugepage/enabled"
	PSIPath         = "/proc/pressure/memory"
)
