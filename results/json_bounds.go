package results

import (
	"encoding/json"
	"math"
)

// JSON has no infinities: an unbounded interval (an upper bound of a rate
// ratio when the baseline saw no events, say) is written as the string
// "+Inf" or "-Inf", and NaN as null; reading gives the values back.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	switch v := float64(f); {
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	case math.IsNaN(v):
		return []byte(`null`), nil
	default:
		return json.Marshal(v)
	}
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"+Inf"`:
		*f = jsonFloat(math.Inf(1))
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
	case `null`:
		*f = jsonFloat(math.NaN())
	default:
		var v float64
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = jsonFloat(v)
	}
	return nil
}

// metricJSON is MetricResult with its estimates in jsonFloat.
type metricJSON struct {
	metricPlain
	BaseMedian jsonFloat `json:"base_median"`
	CandMedian jsonFloat `json:"cand_median"`
	Ratio      jsonFloat `json:"ratio,omitempty"`
	Lo         jsonFloat `json:"lo,omitempty"`
	Hi         jsonFloat `json:"hi,omitempty"`
}

type metricPlain MetricResult

// MarshalJSON writes infinite estimates as "+Inf"/"-Inf" (see jsonFloat).
func (m MetricResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricJSON{metricPlain: metricPlain(m), BaseMedian: jsonFloat(m.BaseMedian), CandMedian: jsonFloat(m.CandMedian),
		Ratio: jsonFloat(m.Ratio), Lo: jsonFloat(m.Lo), Hi: jsonFloat(m.Hi)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (m *MetricResult) UnmarshalJSON(b []byte) error {
	var j metricJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*m = MetricResult(j.metricPlain)
	m.BaseMedian, m.CandMedian = float64(j.BaseMedian), float64(j.CandMedian)
	m.Ratio, m.Lo, m.Hi = float64(j.Ratio), float64(j.Lo), float64(j.Hi)
	return nil
}
