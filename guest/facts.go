package guest

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/kernels"
)

// Facts are probed, not derived from version numbers: distributions
// backport, so a knob that exists is the evidence.

// factFiles maps fact keys to files read verbatim (trimmed); a missing file
// is a missing key.
var factFiles = map[string]string{
	"cmdline":                           "/proc/cmdline",
	"sched.preempt":                     "/sys/kernel/debug/sched/preempt",
	"sched.base_slice_ns":               "/sys/kernel/debug/sched/base_slice_ns",
	"sched.latency_ns":                  "/sys/kernel/debug/sched/latency_ns",
	"sched.min_granularity_ns":          "/sys/kernel/debug/sched/min_granularity_ns",
	"sched.wakeup_granularity_ns":       "/sys/kernel/debug/sched/wakeup_granularity_ns",
	"sched.migration_cost_ns":           "/sys/kernel/debug/sched/migration_cost_ns",
	"sched.features":                    "/sys/kernel/debug/sched/features",
	"sched.fair_server.cpu0.runtime_ns": "/sys/kernel/debug/sched/fair_server/cpu0/runtime",
	"sched.fair_server.cpu0.period_ns":  "/sys/kernel/debug/sched/fair_server/cpu0/period",
	"clocksource":                       "/sys/devices/system/clocksource/clocksource0/current_clocksource",
	"clocksource.available":             "/sys/devices/system/clocksource/clocksource0/available_clocksource",
	"mm.lru_gen.enabled":                "/sys/kernel/mm/lru_gen/enabled",
	"mm.zswap.enabled":                  "/sys/module/zswap/parameters/enabled",
	"mm.zswap.compressor":               "/sys/module/zswap/parameters/compressor",
	"mm.thp.enabled":                    "/sys/kernel/mm/transparent_hugepage/enabled",
	"mm.thp.defrag":                     "/sys/kernel/mm/transparent_hugepage/defrag",
	"mm.zram.comp_algorithm":            "/sys/block/zram0/comp_algorithm",
}

// factSysctls are recorded as "sysctl.NAME" when they exist.
var factSysctls = []string{
	"kernel.sched_rt_runtime_us",
	"kernel.sched_rt_period_us",
	"kernel.sched_rr_timeslice_ms",
	"kernel.sched_autogroup_enabled",
	"kernel.sched_child_runs_first",
	"kernel.sched_schedstats",
	"kernel.timer_migration",
	"kernel.numa_balancing",
	"vm.swappiness",
	"vm.page-cluster",
	"vm.overcommit_memory",
	"vm.min_free_kbytes",
	"vm.watermark_scale_factor",
	"vm.oom_kill_allocating_task",
	"vm.panic_on_oom",
	"net.core.default_qdisc",
	"net.core.busy_poll",
	"net.core.busy_read",
	"net.core.netdev_budget",
	"net.ipv4.tcp_congestion_control",
	"net.ipv4.tcp_available_congestion_control",
	"net.ipv4.tcp_slow_start_after_idle",
	"net.ipv4.tcp_autocorking",
	"net.ipv4.tcp_low_latency",
	"net.ipv4.tcp_notsent_lowat",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
	"net.ipv4.tcp_mem",
	"net.ipv4.tcp_min_rtt_wlen",
	"net.ipv4.tcp_tso_win_divisor",
	"net.ipv4.tcp_limit_output_bytes",
	"net.ipv4.tcp_pingpong_thresh",
	"net.ipv4.tcp_comp_sack_delay_ns",
	"net.ipv4.tcp_comp_sack_nr",
	"net.ipv4.tcp_backlog_ack_defer",
	"net.ipv4.tcp_rto_min_us",
	"net.ipv4.tcp_early_retrans",
	"net.ipv4.tcp_recovery",
	"net.ipv4.tcp_no_metrics_save",
	"net.ipv4.tcp_timestamps",
	"net.ipv4.tcp_sack",
	"net.ipv4.tcp_ecn",
	"net.ipv4.tcp_pacing_ss_ratio",
	"net.ipv4.tcp_pacing_ca_ratio",
}

// Facts collects the facts of the running kernel, reading files under root
// ("/" in the guest; a fake tree in tests).
func Facts(root string) map[string]string {
	m := map[string]string{}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		f := func(b []byte) string { return unix.ByteSliceToString(b) }
		m["uname.sysname"] = f(u.Sysname[:])
		m["uname.release"] = f(u.Release[:])
		m["uname.version"] = f(u.Version[:])
		m["uname.machine"] = f(u.Machine[:])
		m["uname"] = strings.Join([]string{m["uname.sysname"], f(u.Nodename[:]), m["uname.release"], m["uname.version"], m["uname.machine"]}, " ")
	}
	m["cpus"] = fmt.Sprint(runtime.NumCPU())
	for k, p := range factFiles {
		if v, ok := readFact(root, p); ok {
			m[k] = v
		}
	}
	if mode := preemptMode(m["sched.preempt"]); mode != "" {
		m["sched.preempt_mode"] = mode
	}
	for _, s := range factSysctls {
		if v, ok := readFact(root, sysctlPath(s)); ok {
			m["sysctl."+s] = strings.Join(strings.Fields(v), " ")
		}
	}
	if cfg, err := readConfigGz(filepath.Join(root, "/proc/config.gz")); err == nil {
		for k, v := range cfg {
			m["config."+k] = v
		}
	}
	if s, ok := stealTicks(root); ok {
		m["steal_before_ticks"] = s
	}
	memFacts(root, m)
	return m
}

// memFacts records what the memory scenarios depend on: PSI, the swap
// areas the guest booted with (the scenarios add their own, see their
// notes) and the memory size.
func memFacts(root string, m map[string]string) {
	m["mm.psi"] = "no"
	if _, err := os.Stat(filepath.Join(root, "/proc/pressure/memory")); err == nil {
		m["mm.psi"] = "yes"
	}
	if b, err := os.ReadFile(filepath.Join(root, "/proc/swaps")); err == nil {
		var areas []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			if f := strings.Fields(l); len(f) >= 3 {
				areas = append(areas, f[0]+" "+f[1]+" "+f[2]+"KiB")
			}
		}
		m["mm.swap"] = "none"
		if len(areas) > 0 {
			m["mm.swap"] = strings.Join(areas, ", ")
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "/proc/meminfo")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				m["mem_total"] = strings.Join(strings.Fields(v), " ")
			}
		}
	}
}

// AfterFacts are the facts taken once the scenarios are done.
func AfterFacts(root string) map[string]string {
	m := map[string]string{}
	if s, ok := stealTicks(root); ok {
		m["steal_after_ticks"] = s
	}
	return m
}

func readFact(root, path string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func sysctlPath(name string) string {
	return "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
}

// preemptMode picks the active mode out of "none voluntary (full) lazy".
func preemptMode(s string) string {
	for _, f := range strings.Fields(s) {
		if len(f) > 2 && f[0] == '(' && f[len(f)-1] == ')' {
			return f[1 : len(f)-1]
		}
	}
	return ""
}

// stealTicks returns the steal column of /proc/stat's "cpu" line (USER_HZ ticks).
func stealTicks(root string) (string, bool) {
	f, err := os.Open(filepath.Join(root, "/proc/stat"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// cpu user nice system idle iowait irq softirq steal ...
		if len(fs) > 8 && fs[0] == "cpu" {
			return fs[8], true
		}
	}
	return "", false
}

func readConfigGz(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := kernels.ParseConfig(z)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	for _, k := range kernels.ReportedConfig {
		if v, ok := cfg[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}
