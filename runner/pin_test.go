package runner

import (
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCPUSets(t *testing.T) {
	tests := []struct {
		name        string
		host        []int
		slots, cpus int
		want        [][]int
	}{
		{"two guests of one vCPU on two CPUs", []int{0, 1}, 2, 1, [][]int{{0}, {1}}},
		{"one guest of two vCPUs on two CPUs", []int{0, 1}, 1, 2, [][]int{{0, 1}}},
		{"two guests of two vCPUs on two CPUs", []int{0, 1}, 2, 2, nil},
		{"affinity mask with holes", []int{2, 3, 6, 7, 9}, 2, 2, [][]int{{2, 3}, {6, 7}}},
		{"three guests of two on eight", []int{0, 1, 2, 3, 4, 5, 6, 7}, 3, 2, [][]int{{0, 1}, {2, 3}, {4, 5}}},
		{"no host CPUs", nil, 1, 1, nil},
		{"no slots", []int{0, 1}, 0, 1, nil},
		{"no vCPUs", []int{0, 1}, 1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CPUSets(tt.host, tt.slots, tt.cpus)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("CPUSets(%v, %d, %d) = %v, want %v", tt.host, tt.slots, tt.cpus, got, tt.want)
			}
			seen := map[int]bool{}
			for _, set := range got {
				for _, c := range set {
					if seen[c] {
						t.Errorf("CPU %d in two sets", c)
					}
					seen[c] = true
				}
			}
			if len(got) > 0 {
				// The sets must not alias the caller's slice.
				got[0][0] = -1
				if slices.Contains(tt.host, -1) {
					t.Errorf("CPUSets returned sets that alias the host slice")
				}
			}
		})
	}
}

func TestSpareCPUs(t *testing.T) {
	tests := []struct {
		host []int
		sets [][]int
		want []int
	}{
		{[]int{0, 1}, [][]int{{0}}, []int{1}},
		{[]int{0, 1}, [][]int{{0}, {1}}, nil},
		{[]int{0, 1, 2, 3}, [][]int{{1, 2}}, []int{0, 3}},
		{[]int{4, 5}, nil, []int{4, 5}},
	}
	for _, tt := range tests {
		if got := SpareCPUs(tt.host, tt.sets); !slices.Equal(got, tt.want) {
			t.Errorf("SpareCPUs(%v, %v) = %v, want %v", tt.host, tt.sets, got, tt.want)
		}
	}
}

func TestHostCPUs(t *testing.T) {
	cpus, err := HostCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) == 0 || !slices.IsSorted(cpus) {
		t.Errorf("HostCPUs() = %v, want a sorted, non-empty list", cpus)
	}
}

func TestParseCPUsFast(t *testing.T) {
	tests := []struct {
		reply   string
		want    []int
		wantErr bool
	}{
		{`{"return":[{"cpu-index":0,"thread-id":101,"qom-path":"/machine/unattached/device[0]","target":"x86_64"}]}`, []int{101}, false},
		{`{"return":[{"cpu-index":1,"thread-id":202},{"cpu-index":0,"thread-id":201}]}`, []int{201, 202}, false},
		{`{"return":[]}`, nil, true},
		{`{"return":[{"cpu-index":3,"thread-id":1}]}`, nil, true},
		{`{"return":[{"cpu-index":0,"thread-id":0}]}`, nil, true},
		{`{"error":{"class":"CommandNotFound"}}`, nil, true},
		{`not json`, nil, true},
	}
	for _, tt := range tests {
		got, err := parseCPUsFast([]byte(tt.reply))
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUsFast(%s) = %v, %v; want %v, error %v", tt.reply, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseCPUsFast(f *testing.F) {
	f.Add([]byte(`{"return":[{"cpu-index":0,"thread-id":101}]}`))
	f.Add([]byte(`{"return":[{"cpu-index":-1,"thread-id":5}]}`))
	f.Fuzz(func(t *testing.T, reply []byte) {
		threads, err := parseCPUsFast(reply)
		if err != nil {
			return
		}
		for i, tid := range threads {
			if tid <= 0 {
				t.Errorf("parseCPUsFast(%q): vCPU %d has thread %d", reply, i, tid)
			}
		}
	})
}

// TestClaimCPUs: a claimed CPU cannot be claimed again until released.
// flock locks belong to open files, so a second claim in the same process
// stands for another process.
func TestClaimCPUs(t *testing.T) {
	dir := t.TempDir()
	a, err := ClaimCPUs(dir, [][]int{{0}, {1}})
	if err != nil || a == nil {
		t.Fatalf("ClaimCPUs({0},{1}) = %v, %v; want a claim", a, err)
	}
	if b, err := ClaimCPUs(dir, [][]int{{2}, {1}}); err != nil || b != nil {
		t.Fatalf("ClaimCPUs({2},{1}) while 1 is held = %v, %v; want nil, nil", b, err)
	}
	// The failed claim must not have kept CPU 2.
	c, err := ClaimCPUs(dir, [][]int{{2}})
	if err != nil || c == nil {
		t.Fatalf("ClaimCPUs({2}) = %v, %v; want a claim", c, err)
	}
	c.Release()
	a.Release()
	d, err := ClaimCPUs(dir, [][]int{{0, 1}})
	if err != nil || d == nil {
		t.Fatalf("ClaimCPUs({0,1}) after release = %v, %v; want a claim", d, err)
	}
	d.Release()
}

// Renice reaches every thread of a process and reads the value back;
// CanRenice tells what this process may give.
func TestRenice(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("needs qemu-system-x86_64")
	}
	// A paused QEMU (-S) with no guest: its threads (main loop, RCU, vCPU)
	// exist and do nothing.
	cmd := exec.Command("qemu-system-x86_64", "-S", "-display", "none", "-nodefaults", "-machine", "none")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var tids []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if tids, _ = processThreads(cmd.Process.Pid); len(tids) > 1 {
			break
		}
	}
	if len(tids) < 2 {
		t.Fatalf("qemu has threads %v, want more than one", tids)
	}
	// A positive value needs no privilege.
	got, err := Renice(cmd.Process.Pid, 7)
	if err != nil || got != 7 {
		t.Fatalf("Renice(7) = %d, %v, want 7", got, err)
	}
	for _, tid := range tids {
		if n, err := threadNice(cmd.Process.Pid, tid); err == nil && n != 7 {
			t.Errorf("thread %d: nice %d, want 7", tid, n)
		}
	}
	if err := CanRenice(5); err != nil {
		t.Errorf("CanRenice(5) = %v, want nil (raising one's own nice value needs no privilege)", err)
	}
	if os.Geteuid() != 0 {
		if err := CanRenice(-5); err == nil || !strings.Contains(err.Error(), "CAP_SYS_NICE") {
			t.Errorf("CanRenice(-5) without root = %v, want an error naming CAP_SYS_NICE", err)
		}
	}
}
