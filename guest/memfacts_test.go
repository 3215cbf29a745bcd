package guest

import (
	"reflect"
	"testing"
)

const swapsHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"

func TestMemFacts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  map[string]string
	}{
		{"zram swap, psi", map[string]string{
			"/proc/pressure/memory": "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
			"/proc/swaps":           swapsHeader + "/dev/zram0                              partition\t262140\t\t0\t\t-2\n",
			"/proc/meminfo":         "MemTotal:        1004556 kB\nMemFree:          800000 kB\nSwapTotal:        262140 kB\n",
		}, map[string]string{"mm.psi": "yes", "mm.swap": "/dev/zram0 partition 262140KiB", "mem_total": "1004556 kB"}},
		{"two areas", map[string]string{
			"/proc/swaps": swapsHeader + "/dev/vda  partition  524284  0  -2\n/swapfile  file  1048572  12  -3\n",
		}, map[string]string{"mm.psi": "no", "mm.swap": "/dev/vda partition 524284KiB, /swapfile file 1048572KiB"}},
		{"no swap, no psi", map[string]string{
			"/proc/swaps":   swapsHeader,
			"/proc/meminfo": "MemTotal:  2048000 kB\n",
		}, map[string]string{"mm.psi": "no", "mm.swap": "none", "mem_total": "2048000 kB"}},
		{"empty swaps", map[string]string{"/proc/swaps": ""}, map[string]string{"mm.psi": "no", "mm.swap": "none"}},
		// A kernel without CONFIG_SWAP has no /proc/swaps: unknown, not none.
		{"no /proc/swaps", map[string]string{"/proc/meminfo": "MemFree: 1 kB\n"}, map[string]string{"mm.psi": "no"}},
	}
	for _, tt := range tests {
		root := writeTree(t, tt.files)
		got := map[string]string{}
		memFacts(root, got)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: memFacts = %v, want %v", tt.name, got, tt.want)
		}
		// Facts reports them with the rest.
		all := Facts(root)
		for k, v := range tt.want {
			if all[k] != v {
				t.Errorf("%s: Facts()[%q] = %q, want %q", tt.name, k, all[k], v)
			}
		}
	}
}
