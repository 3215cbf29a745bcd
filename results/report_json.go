package results

import (
	"encoding/json"
	"io"
)

// WriteJSON writes the comparison as indented JSON. The form is versioned by
// the "schema" field (ComparisonSchema) and documented in SCHEMA.md and on
// the Comparison, KernelResult, MetricResult, Fault and Change types:
//
//	schema          "kvet.comparison/v2"
//	baseline        baseline kernel name
//	alpha           false discovery rate; intervals are at 1-2*alpha
//	baseline_boots  boot counts by outcome
//	kernels[]       one per candidate: boots, faults (regressions of the
//	                kernel itself), tests and secondary_tests (primary and
//	                secondary metrics tested), boots_needed, metrics[] (key,
//	                per-boot values, medians, primary, test, scale, ratio,
//	                lo, hi, level, p, q, verdict, reason), changes[], notes
//	notes           caveats about the whole comparison
//
// The document opens with "answer": the lines of the answer that every
// report starts with (see Answer); a reader of the comparison ignores it.
func WriteJSON(w io.Writer, c *Comparison) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(struct {
		Answer []string `json:"answer"`
		*Comparison
	}{Answer(c), c})
}
