package matrix

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// BootCount is a matrix's boots: a number of boots per kernel, or Auto.
type BootCount int

// Auto is boots: auto, an adaptive run: a first round of Round boots of
// every kernel, then further rounds of the baseline and the kernels still
// undecided, until they are decided, MaxBoots is reached or Budget runs out.
const Auto BootCount = -1

// Adaptive defaults.
const (
	DefaultRound    = 3
	DefaultMaxBoots = 9
	DefaultBudget   = Duration(15 * time.Minute)
)

// ParseBootCount reads "auto" or a number of boots, as a flag gives it.
func ParseBootCount(s string) (BootCount, error) {
	s = strings.TrimSpace(s)
	if s == "auto" {
		return Auto, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxBoots {
		return 0, fmt.Errorf("boots: %q: want auto or a number 1..%d", s, MaxBoots)
	}
	return BootCount(n), nil
}

func (b BootCount) String() string {
	if b == Auto {
		return "auto"
	}
	return strconv.Itoa(int(b))
}

// UnmarshalYAML accepts auto or a number.
func (b *BootCount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &Error{Line: n.Line, Msg: "boots: want auto or a number"}
	}
	if n.Value == "auto" {
		*b = Auto
		return nil
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		return &Error{Line: n.Line, Msg: fmt.Sprintf("boots: %q: want auto or a number", n.Value)}
	}
	*b = BootCount(v)
	return nil
}

// MarshalYAML writes auto or the number.
func (b BootCount) MarshalYAML() (any, error) {
	if b == Auto {
		return "auto", nil
	}
	return int(b), nil
}

// Adaptive says whether the matrix asks for boots: auto.
func (m *Matrix) Adaptive() bool { return m.Boots == Auto }

// FirstRound is the boots per kernel planned when the run starts: all of
// them, or an adaptive run's first round.
func (m *Matrix) FirstRound() int {
	if m.Adaptive() {
		return m.Round
	}
	return int(m.Boots)
}

// fillBoots defaults and checks boots, round, max_boots and budget.
func (m *Matrix) fillBoots(bad func(key, format string, args ...any) error) error {
	if m.Boots == 0 {
		m.Boots = Auto
	}
	if !m.Adaptive() {
		if m.Boots < 1 || m.Boots > MaxBoots {
			return bad("boots", "boots: %d is out of range 1..%d (or auto)", m.Boots, MaxBoots)
		}
		for _, f := range []struct {
			key string
			set bool
		}{{"round", m.Round != 0}, {"max_boots", m.MaxBoots != 0}, {"budget", m.Budget != 0}} {
			if f.set {
				return bad(f.key, "%s: goes with boots: auto (boots: %d is a fixed number)", f.key, m.Boots)
			}
		}
		return nil
	}
	if m.MaxBoots == 0 {
		m.MaxBoots = DefaultMaxBoots
	}
	if m.Round == 0 {
		m.Round = min(DefaultRound, m.MaxBoots)
	}
	if m.Budget == 0 {
		m.Budget = DefaultBudget
	}
	switch {
	case m.MaxBoots < 2 || m.MaxBoots > MaxBoots:
		return bad("max_boots", "max_boots: %d is out of range 2..%d", m.MaxBoots, MaxBoots)
	case m.Round < 2 || m.Round > m.MaxBoots:
		return bad("round", "round: %d is out of range 2..max_boots (%d): a kernel needs two boots for a comparison", m.Round, m.MaxBoots)
	}
	return nil
}

// Set reads a flag's value (flag.Value).
func (b *BootCount) Set(s string) error {
	v, err := ParseBootCount(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
