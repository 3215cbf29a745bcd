package matrix

import (
	"fmt"
	"regexp"

	"github.com/kvet/kvet/scenarios"
)

// The boot is the unit of replication: a scenario listed twice in one
// matrix must not give one boot two results of the same name, which the
// comparison would pool as if they came from two boots. Each entry's
// results carry its label, or its scenario's name when it has none, and
// these must be distinct.

var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+@-]*$`)

// ResultName is the name the entry's results carry: its label, else the
// scenario's name.
func (s Scenario) ResultName() string {
	if s.Label != "" {
		return s.Label
	}
	return s.Name
}

// checkLabels refuses malformed labels, labels that are another scenario's
// name, and two entries whose results would carry the same name.
func checkLabels(file string, list []Scenario) error {
	first := map[string]int{}
	for _, s := range list {
		if s.Label != "" {
			if !labelRE.MatchString(s.Label) {
				return &Error{File: file, Line: s.line, Msg: fmt.Sprintf("scenario %s: label %q: use letters, digits and _ + @ - (no dots or slashes: they separate metric names)", s.Name, s.Label)}
			}
			if _, err := scenarios.Lookup(s.Label); err == nil && s.Label != s.Name {
				return &Error{File: file, Line: s.line, Msg: fmt.Sprintf("scenario %s: label %q is another scenario's name", s.Name, s.Label)}
			}
		}
		n := s.ResultName()
		if line, dup := first[n]; dup {
			return &Error{File: file, Line: s.line, Msg: fmt.Sprintf("scenario %s: %q is already listed on line %d; the boot is the unit of replication, so a second run in the same boot is a different scenario: give each entry its own label:", s.Name, n, line)}
		}
		first[n] = s.line
	}
	return nil
}
