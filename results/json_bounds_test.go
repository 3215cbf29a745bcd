package results

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestMetricJSONInfinity: an unbounded interval survives a JSON round trip
// (encoding/json refuses infinities outright, which once lost a run's
// report.json).
func TestMetricJSONInfinity(t *testing.T) {
	m := MetricResult{Key: "nagle/stalled", Base: []float64{0, 0}, Ratio: 1, Lo: 0.5, Hi: math.Inf(1), P: 0.3, BaseMedian: 0}
	b, err := json.Marshal(&Comparison{Kernels: []KernelResult{{Kernel: "k", Metrics: []MetricResult{m}}}})
	if err != nil {
		t.Fatalf("json.Marshal = %v", err)
	}
	if !strings.Contains(string(b), `"hi":"+Inf"`) || !strings.Contains(string(b), `"key":"nagle/stalled"`) {
		t.Errorf("json = %s, want hi as \"+Inf\" and the other fields", b)
	}
	var c Comparison
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	got := c.Kernels[0].Metrics[0]
	if !math.IsInf(got.Hi, 1) || got.Lo != 0.5 || got.Ratio != 1 || got.P != 0.3 || got.Key != m.Key || len(got.Base) != 2 {
		t.Errorf("round trip = %+v, want %+v", got, m)
	}
}
