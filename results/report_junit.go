package results

import (
	"encoding/xml"
	"fmt"
	"io"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Props    []junitProperty `xml:"properties>property,omitempty"`
	Cases    []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit renders the comparison as JUnit XML: a testsuite per candidate
// kernel, a testcase for its boots and one per metric; regressions fail,
// inconclusive, underpowered and not-comparable metrics are skipped.
func WriteJUnit(w io.Writer, c *Comparison) error {
	out := junitSuites{Name: "kvet"}
	for i := range c.Kernels {
		k := &c.Kernels[i]
		s := junitSuite{Name: k.Kernel, Props: []junitProperty{{"baseline", c.BaselineOf(k)}, {"boots", bootsString(k.Boots)}}}
		class := "kvet." + k.Kernel
		boots := junitCase{Name: "boots", Classname: class, Output: bootsString(k.Boots)}
		if len(k.Faults) > 0 {
			boots.Failure = &junitMessage{Message: k.Faults[0].String(), Type: string(Regression)}
			for _, f := range k.Faults {
				boots.Failure.Text += fmt.Sprintf("%s: %s (%v)\n", f, f.Reason, f.Boots)
			}
		}
		s.Cases = append(s.Cases, boots)
		for j := range k.Metrics {
			m := &k.Metrics[j]
			tc := junitCase{Name: m.Key, Classname: class,
				Output: fmt.Sprintf("baseline %s, candidate %s, shift %s, CI %s, p %s, q %s, n %d/%d, verdict %s",
					medianString(m.Base, m.BaseMedian, m.Unit), medianString(m.Cand, m.CandMedian, m.Unit), changeString(m), ciString(m),
					pString(m.P), pString(m.Q), len(m.Base), len(m.Cand), m.Verdict)}
			msg := string(m.Verdict)
			if m.Reason != "" {
				msg += ": " + m.Reason
			}
			switch m.Verdict {
			case Regression:
				tc.Failure = &junitMessage{Message: fmt.Sprintf("%s changed %s %s (threshold %g%%)", m.Key, changeString(m), ciString(m), m.Threshold*100), Type: string(Regression)}
			case Inconclusive, Underpowered, NotComparable:
				tc.Skipped = &junitMessage{Message: msg}
			}
			s.Cases = append(s.Cases, tc)
		}
		for _, tc := range s.Cases {
			s.Tests++
			if tc.Failure != nil {
				s.Failures++
			}
			if tc.Skipped != nil {
				s.Skipped++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	e := xml.NewEncoder(w)
	e.Indent("", "  ")
	if err := e.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
