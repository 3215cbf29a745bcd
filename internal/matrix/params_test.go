package matrix

import (
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/scenarios"
)

// TestScenarioParams: --param pairs are YAML values over the profile's
// defaults, checked like a matrix's params.
func TestScenarioParams(t *testing.T) {
	p, err := ScenarioParams("nagle", scenarios.Quick, []string{"exchanges=5", "variants=[nodelay-off, nodelay-on]", "stall=25ms"})
	if err != nil {
		t.Fatal(err)
	}
	np := p.(*scenarios.NagleParams)
	if np.Exchanges != 5 || len(np.Variants) != 2 || np.Stall != 25*time.Millisecond || np.Warmup != 2 {
		t.Errorf("params = %+v", np)
	}
	for _, c := range []struct {
		name  string
		pairs []string
		want  string
	}{
		{"nagle", []string{"exchanges"}, `--param: "exchanges": want KEY=VALUE`},
		{"nagle", []string{"exchange=5"}, "exchange"},
		{"nagle", []string{"exchanges=0"}, "exchanges: 0 must be at least 1"},
		{"nosuch", nil, "unknown scenario"},
	} {
		if _, err := ScenarioParams(c.name, scenarios.Quick, c.pairs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ScenarioParams(%s, %q) = %v, want %q", c.name, c.pairs, err, c.want)
		}
	}
}
