package results

import (
	"sort"
	"strings"
)

// Change is one difference between the baseline and a candidate that can
// explain a change in behaviour.
type Change struct {
	// Kind is "release", "config", "cmdline", "sysctl" or "fact".
	Kind string `json:"kind"`
	Key  string `json:"key"`
	// Base and Cand are the values ("" when unset on that side).
	Base string `json:"base"`
	Cand string `json:"cand"`
}

// Config options and facts that explain scheduler, timer and TCP behaviour.
var (
	configPrefixes = []string{"HZ", "PREEMPT", "NO_HZ", "SCHED_", "TCP_CONG_", "DEFAULT_TCP_CONG", "LRU_GEN", "ZSWAP", "ZRAM", "PSI", "MEMCG", "TRANSPARENT_HUGEPAGE"}
	factPrefixes   = []string{"sched.", "sysctl.net.ipv4.tcp_", "sysctl.kernel.sched_", "sysctl.vm.", "mm.", "clocksource", "preempt", "hz", "tcp.", "config."}
)

// WhatChanged lists the differences between baseline and candidate in what
// explains behaviour: the release, the kernel configuration (HZ, PREEMPT*,
// NO_HZ*, SCHED_*, TCP_CONG_*, DEFAULT_TCP_CONG), the extra kernel command
// line and sysctls from the matrix, and the facts the guest recorded
// (scheduler knobs, tcp sysctls, clocksource, preemption mode). Facts are
// those of one OK boot of each kernel. The order is stable: by kind, then key.
func WhatChanged(base, cand Kernel, baseFacts, candFacts map[string]string) []Change {
	var out []Change
	if base.Release != cand.Release {
		out = append(out, Change{Kind: "release", Key: "release", Base: base.Release, Cand: cand.Release})
	}
	cfg := func(k string) bool {
		k = strings.TrimPrefix(k, "CONFIG_")
		for _, p := range configPrefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	configs := diffMaps("config", base.Config, cand.Config, cfg)
	out = append(out, configs...)
	if base.Cmdline != cand.Cmdline {
		out = append(out, Change{Kind: "cmdline", Key: "cmdline", Base: base.Cmdline, Cand: cand.Cmdline})
	}
	out = append(out, diffMaps("sysctl", base.Sysctl, cand.Sysctl, func(string) bool { return true })...)
	known := map[string]bool{} // config options said already, not again as facts
	for _, c := range configs {
		known["config."+c.Key] = true
	}
	fact := func(k string) bool {
		if known[k] {
			return false
		}
		for _, p := range factPrefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	out = append(out, diffMaps("fact", baseFacts, candFacts, fact)...)
	return out
}

func diffMaps(kind string, a, b map[string]string, keep func(string) bool) []Change {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		if keep(k) {
			sorted = append(sorted, k)
		}
	}
	sort.Strings(sorted)
	var out []Change
	for _, k := range sorted {
		av, aok := a[k]
		bv, bok := b[k]
		if av != bv || aok != bok {
			out = append(out, Change{Kind: kind, Key: k, Base: av, Cand: bv})
		}
	}
	return out
}
