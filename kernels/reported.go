package kernels

// ReportedConfig are the kernel config options that explain scheduling and
// TCP behaviour: kvet records them with every run and boot and compares
// them. The guest reads them from /proc/config.gz; the host fills in the
// gaps from the kernel's config file.
var ReportedConfig = []string{"CONFIG_HZ", "CONFIG_HZ_PERIODIC", "CONFIG_PREEMPT", "CONFIG_PREEMPT_RT", "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT_NONE",
	"CONFIG_PREEMPT_DYNAMIC", "CONFIG_PREEMPT_LAZY", "CONFIG_NO_HZ_FULL", "CONFIG_NO_HZ_IDLE", "CONFIG_SCHED_AUTOGROUP",
	"CONFIG_SCHED_CORE", "CONFIG_SCHED_CLASS_EXT", "CONFIG_RT_GROUP_SCHED", "CONFIG_CFS_BANDWIDTH", "CONFIG_DEFAULT_TCP_CONG",
	"CONFIG_TCP_CONG_BBR", "CONFIG_TCP_CONG_CUBIC", "CONFIG_NET_SCH_DEFAULT", "CONFIG_IRQ_FORCED_THREADING", "CONFIG_SCHEDSTATS",
	"CONFIG_LRU_GEN", "CONFIG_LRU_GEN_ENABLED", "CONFIG_ZSWAP", "CONFIG_ZSWAP_DEFAULT_ON", "CONFIG_ZRAM", "CONFIG_PSI", "CONFIG_PSI_DEFAULT_DISABLED",
	"CONFIG_MEMCG", "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS", "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE"}

// ReportedOf returns the ReportedConfig options of a parsed config, "n"
// for those it does not set; nil for an unknown config (nil).
func ReportedOf(cfg map[string]string) map[string]string {
	if cfg == nil {
		return nil
	}
	out := map[string]string{}
	for _, k := range ReportedConfig {
		if v, ok := cfg[k]; ok {
			out[k] = v
		} else {
			out[k] = "n"
		}
	}
	return out
}
