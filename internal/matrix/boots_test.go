package matrix

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const twoKernels = "kernels:\n  - name: a\n    deb: a.deb\n  - name: b\n    deb: b.deb\n"

// TestBootsAuto: boots: auto and its settings parse, default, survive the
// round trip through the run's recorded YAML, and bad values name their
// line.
func TestBootsAuto(t *testing.T) {
	m, err := Parse("m.yaml", []byte("boots: auto\nmax_boots: 6\nbudget: 4m\n"+twoKernels))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Adaptive() || m.Round != 3 || m.MaxBoots != 6 || m.Budget != Duration(4*time.Minute) || m.FirstRound() != 3 {
		t.Errorf("boots %v round %d max %d budget %v first %d; want auto 3 6 4m 3", m.Boots, m.Round, m.MaxBoots, m.Budget, m.FirstRound())
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("run.json (matrix)", out)
	if err != nil || !again.Adaptive() || again.MaxBoots != 6 || again.Budget != m.Budget || again.Round != 3 {
		t.Errorf("round trip of\n%s= %+v, %v", out, again, err)
	}
	// A small max_boots caps the default round.
	if m, err := Parse("m.yaml", []byte("max_boots: 2\n"+twoKernels)); err != nil || m.Round != 2 {
		t.Errorf("max_boots 2: round %d, %v; want 2", m.Round, err)
	}
	fixed, err := Parse("m.yaml", []byte("boots: 5\n"+twoKernels))
	if err != nil || fixed.Adaptive() || fixed.FirstRound() != 5 {
		t.Errorf("boots: 5 = %+v, %v", fixed, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"boots: 5\nround: 2\n", "m.yaml:2: round: goes with boots: auto"},
		{"boots: 5\nbudget: 1m\n", "m.yaml:2: budget: goes with boots: auto"},
		{"boots: many\n", "m.yaml:1"},
		{"boots: auto\nround: 7\nmax_boots: 5\n", "m.yaml:2: round: 7 is out of range"},
		{"boots: auto\nmax_boots: 1\n", "m.yaml:2: max_boots: 1 is out of range"},
		{"round: 0\n", "m.yaml:1: round: 0"},
		{"boots: 0\n", "m.yaml:1: boots: 0"},
	} {
		_, err := Parse("m.yaml", []byte(c.yaml+twoKernels))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", c.yaml, err, c.want)
		}
	}
}

// TestBootsOverride: --boots N turns an adaptive matrix into a fixed one,
// --boots auto the other way, and --max-boots/--budget need auto.
func TestBootsOverride(t *testing.T) {
	m, _ := Parse("m.yaml", []byte(twoKernels))
	if err := m.Apply(Override{Boots: 4}); err != nil || m.Adaptive() || m.Boots != 4 || m.Round != 0 || m.MaxBoots != 0 {
		t.Errorf("--boots 4 on auto: %+v, %v", m, err)
	}
	if err := m.Apply(Override{Boots: Auto, MaxBoots: 4, Budget: time.Minute}); err != nil || !m.Adaptive() || m.MaxBoots != 4 || m.Round != 3 || m.Budget != Duration(time.Minute) {
		t.Errorf("--boots auto --max-boots 4 --budget 1m: %+v, %v", m, err)
	}
	m, _ = Parse("m.yaml", []byte("boots: 3\n"+twoKernels))
	if err := m.Apply(Override{MaxBoots: 5}); err == nil || !strings.Contains(err.Error(), "goes with boots: auto") {
		t.Errorf("--max-boots on a fixed matrix = %v, want an error", err)
	}
	for _, s := range []string{"auto", "1", "12"} {
		if b, err := ParseBootCount(s); err != nil || b.String() != s {
			t.Errorf("ParseBootCount(%q) = %v, %v", s, b, err)
		}
	}
	for _, s := range []string{"0", "-1", "x", "1001"} {
		if _, err := ParseBootCount(s); err == nil {
			t.Errorf("ParseBootCount(%q) = nil error", s)
		}
	}
}
