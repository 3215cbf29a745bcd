package results

import (
	"fmt"
	"strings"
)

// FailOnVerdicts are the verdicts a run or a diff can be told to fail on.
var FailOnVerdicts = []Verdict{Regression, Improvement, Inconclusive, Underpowered, NotComparable, Equivalent}

// ParseVerdict reads one verdict name of FailOnVerdicts (surrounding spaces
// are ignored).
func ParseVerdict(s string) (Verdict, error) {
	v := Verdict(strings.TrimSpace(s))
	for _, k := range FailOnVerdicts {
		if v == k {
			return v, nil
		}
	}
	names := make([]string, len(FailOnVerdicts))
	for i, k := range FailOnVerdicts {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown verdict %q (want %s, or none)", strings.TrimSpace(s), strings.Join(names, ", "))
}

// ParseFailOn reads a comma-separated list of verdict names, as --fail-on
// takes it; "none" is the empty list. An empty item or an unknown name is an
// error, so that a typo never silently stops a run from failing.
func ParseFailOn(s string) ([]Verdict, error) {
	if strings.TrimSpace(s) == "none" {
		return nil, nil
	}
	var out []Verdict
	for _, item := range strings.Split(s, ",") {
		v, err := ParseVerdict(item)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
