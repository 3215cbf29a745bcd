package kernels

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseConfig reads a kernel .config: "CONFIG_X=y" gives X -> "y" (keys keep
// their CONFIG_ prefix), "# CONFIG_Y is not set" gives Y -> "n", and quoted
// strings are unquoted. Other comments and blank lines are skipped.
func ParseConfig(r io.Reader) (map[string]string, error) {
	cfg := make(map[string]string)
	sc := bufio.NewScanner(r)
	// Some string options (CONFIG_CMDLINE, module signing keys) are long.
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "#") {
			if name, ok := strings.CutSuffix(strings.TrimSpace(s[1:]), " is not set"); ok && strings.HasPrefix(name, "CONFIG_") && !strings.ContainsAny(name, " \t=") {
				cfg[name] = "n"
			}
			continue
		}
		key, val, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(key, "CONFIG_") || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("config line %d: want CONFIG_NAME=value, got %q", line, s)
		}
		if strings.HasPrefix(val, `"`) {
			u, err := strconv.Unquote(val)
			if err != nil {
				return nil, fmt.Errorf("config line %d: %s: bad string %s: %w", line, key, val, err)
			}
			val = u
		}
		cfg[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// Preemption names the kernel's preemption model: "none", "voluntary", "full"
// or "rt", and "dynamic(M)" when CONFIG_PREEMPT_DYNAMIC lets the boot command
// line (preempt=) override the built-in default M. It is "" when the config
// is unknown.
func (k *Kernel) Preemption() string {
	c := k.Config
	if c == nil {
		return ""
	}
	if c["CONFIG_PREEMPT_RT"] == "y" {
		return "rt"
	}
	model := "none"
	switch {
	case c["CONFIG_PREEMPT"] == "y":
		model = "full"
	case c["CONFIG_PREEMPT_LAZY"] == "y":
		model = "lazy"
	case c["CONFIG_PREEMPT_VOLUNTARY"] == "y":
		model = "voluntary"
	}
	if c["CONFIG_PREEMPT_DYNAMIC"] == "y" {
		return "dynamic(" + model + ")"
	}
	return model
}

// HZ is the kernel's timer frequency (CONFIG_HZ), 0 when unknown.
func (k *Kernel) HZ() int {
	hz, err := strconv.Atoi(k.Config["CONFIG_HZ"])
	if err != nil {
		return 0
	}
	return hz
}
