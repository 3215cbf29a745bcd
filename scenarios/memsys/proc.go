package memsys

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Vmstat reads /proc/vmstat's counters.
func Vmstat() (map[string]int64, error) {
	return readKeyed("/proc/vmstat")
}

// Meminfo reads /proc/meminfo, in bytes.
func Meminfo() (map[string]int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	return parseMeminfo(string(b))
}

// parseMeminfo reads "MemTotal:  1004556 kB" lines; values without a unit
// (HugePages_Total) are kept as they are.
func parseMeminfo(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("meminfo: %q", l)
		}
		if len(f) > 1 && f[1] == "kB" {
			n <<= 10
		}
		out[k] = n
	}
	if _, ok := out["MemTotal"]; !ok {
		return nil, fmt.Errorf("meminfo: no MemTotal")
	}
	return out, nil
}
