package guest

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func gz(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFacts(t *testing.T) {
	root := writeTree(t, map[string]string{
		"/proc/cmdline":                                                    "console=ttyS0 panic=-1 kvet.x=1\n",
		"/sys/kernel/debug/sched/preempt":                                  "none voluntary (full) lazy\n",
		"/sys/kernel/debug/sched/base_slice_ns":                            "3000000\n",
		"/sys/kernel/debug/sched/features":                                 "GENTLE_FAIR_SLEEPERS START_DEBIT NO_NEXT_BUDDY\n",
		"/proc/sys/kernel/sched_rt_runtime_us":                             "950000\n",
		"/proc/sys/net/ipv4/tcp_rmem":                                      "4096\t131072\t6291456\n",
		"/proc/sys/net/ipv4/tcp_slow_start_after_idle":                     "1\n",
		"/proc/sys/net/core/default_qdisc":                                 "fq_codel\n",
		"/sys/devices/system/clocksource/clocksource0/current_clocksource": "tsc\n",
		"/proc/stat":      "cpu  10 0 20 300 4 0 1 77 0 0\ncpu0 5 0 10 150 2 0 1 40 0 0\n",
		"/proc/config.gz": gz(t, "CONFIG_HZ_250=y\nCONFIG_HZ=250\n# CONFIG_PREEMPT_RT is not set\nCONFIG_PREEMPT_DYNAMIC=y\nCONFIG_OTHER=y\n"),
	})
	got := Facts(root)
	want := map[string]string{
		"cmdline":                                   "console=ttyS0 panic=-1 kvet.x=1",
		"sched.preempt":                             "none voluntary (full) lazy",
		"sched.preempt_mode":                        "full",
		"sched.base_slice_ns":                       "3000000",
		"sched.features":                            "GENTLE_FAIR_SLEEPERS START_DEBIT NO_NEXT_BUDDY",
		"sysctl.kernel.sched_rt_runtime_us":         "950000",
		"sysctl.net.ipv4.tcp_rmem":                  "4096 131072 6291456",
		"sysctl.net.ipv4.tcp_slow_start_after_idle": "1",
		"sysctl.net.core.default_qdisc":             "fq_codel",
		"clocksource":                               "tsc",
		"steal_before_ticks":                        "77",
		"config.CONFIG_HZ":                          "250",
		"config.CONFIG_PREEMPT_RT":                  "n",
		"config.CONFIG_PREEMPT_DYNAMIC":             "y",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Facts()[%q] = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"sched.latency_ns", "config.CONFIG_OTHER", "sysctl.net.ipv4.tcp_autocorking"} {
		if v, ok := got[k]; ok {
			t.Errorf("Facts()[%q] = %q, want no key (absent knob)", k, v)
		}
	}
	for _, k := range []string{"uname.release", "uname", "cpus"} {
		if got[k] == "" {
			t.Errorf("Facts()[%q] missing", k)
		}
	}
	if got, want := AfterFacts(root), map[string]string{"steal_after_ticks": "77"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AfterFacts() = %v, want %v", got, want)
	}
}

// TestFactsHost reads this machine's own facts: the knobs every Linux has.
func TestFactsHost(t *testing.T) {
	got := Facts("/")
	for _, k := range []string{"cmdline", "sysctl.net.ipv4.tcp_congestion_control", "clocksource", "steal_before_ticks"} {
		if _, ok := got[k]; !ok {
			t.Errorf("Facts(/) has no %q", k)
		}
	}
}

func TestPreemptMode(t *testing.T) {
	for in, want := range map[string]string{
		"none voluntary (full)":      "full",
		"(none) voluntary full lazy": "none",
		"full":                       "",
		"":                           "",
	} {
		if got := preemptMode(in); got != want {
			t.Errorf("preemptMode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookupPort(t *testing.T) {
	root := writeTree(t, map[string]string{
		"/sys/class/virtio-ports/vport0p0/name": "org.qemu.guest_agent.0\n",
		"/sys/class/virtio-ports/vport1p1/name": "org.kvet.0\n",
		"/dev/vport0p0":                         "",
		"/dev/vport1p1":                         "",
	})
	got, ok := lookupPort(root, "org.kvet.0")
	if want := filepath.Join(root, "/dev/vport1p1"); !ok || got != want {
		t.Errorf("lookupPort(org.kvet.0) = %q, %v, want %q", got, ok, want)
	}
	if got, ok := lookupPort(root, "org.other"); ok {
		t.Errorf("lookupPort(org.other) = %q, want not found", got)
	}
	// The node not yet created by devtmpfs: keep waiting.
	os.Remove(filepath.Join(root, "/dev/vport1p1"))
	if got, ok := lookupPort(root, "org.kvet.0"); ok {
		t.Errorf("lookupPort without /dev node = %q, want not found", got)
	}
}

func TestReadModuleList(t *testing.T) {
	root := writeTree(t, map[string]string{"/etc/kvet/modules": "virtio_pci\n\n# comment\n  pvpanic_mmio \n"})
	got, err := readModuleList(filepath.Join(root, "/etc/kvet/modules"))
	if want := []string{"virtio_pci", "pvpanic_mmio"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("readModuleList = %q, %v, want %q", got, err, want)
	}
}
