package scenarios

import (
	"slices"
	"strings"
	"testing"
)

// TestNeeds: what a scenario needs follows its parameters, and a need the
// machine cannot meet is named with the way to meet it.
func TestNeeds(t *testing.T) {
	needs := func(name string, edit func(p any)) []string {
		s, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		p := s.Defaults(Quick)
		if edit != nil {
			edit(p)
		}
		return s.Needs(p)
	}
	if got := needs("timer", nil); !slices.Equal(got, []string{NeedFIFO}) {
		t.Errorf("timer needs %v, want SCHED_FIFO", got)
	}
	if got := needs("timer", func(p any) { p.(*TimerParams).Variants = []string{"other-1ms"} }); got != nil {
		t.Errorf("timer other-1ms needs %v, want nothing", got)
	}
	if got := needs("idle-restart", nil); !slices.Equal(got, []string{NeedSysctl("net.ipv4.tcp_slow_start_after_idle")}) {
		t.Errorf("idle-restart needs %v", got)
	}
	if got := needs("idle-restart", func(p any) { p.(*IdleRestartParams).ToggleSysctl = false }); got != nil {
		t.Errorf("idle-restart without toggling needs %v", got)
	}
	if got := needs("nagle", nil); got != nil {
		t.Errorf("nagle needs %v, want nothing", got)
	}
	miss := Missing([]string{NeedSysctl("net.ipv4.no_such_sysctl"), "bogus"})
	if len(miss) != 2 || !strings.Contains(miss[0], "/proc/sys/net/ipv4/no_such_sysctl") || !strings.Contains(miss[0], "run as root") {
		t.Errorf("Missing = %q", miss)
	}
}
