package results

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Skipped  int             `xml:"skipped,attr"`
	Time     string          `xml:"time,attr"`
	Props    []junitProperty `xml:"properties>property,omitempty"`
	Cases    []junitCase     `xml:"testcase"`
	Output   string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
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
// kernel whose system-out is the kernel's answer, a testcase for its boots
// (timed by their walls) and one per judged metric; regressions fail,
// inconclusive, underpowered and not-comparable metrics are skipped, info
// metrics are not tests. The class name keeps a kernel version's dots out,
// so that CI systems do not split it into packages.
func WriteJUnit(w io.Writer, c *Comparison, bootList []*Boot) error {
	out := junitSuites{Name: "kvet"}
	var total time.Duration
	for i := range c.Kernels {
		k := &c.Kernels[i]
		var wall time.Duration
		for _, b := range bootList {
			if b.Kernel == k.Kernel {
				wall += b.Wall
			}
		}
		total += wall
		s := junitSuite{Name: k.Kernel, Time: seconds(wall), Props: []junitProperty{{"baseline", c.BaselineOf(k)}, {"boots", bootsString(k.Boots)}},
			Output: strings.Join(kernelAnswer(c, k), "\n")}
		class := "kvet." + strings.ReplaceAll(k.Kernel, ".", "_")
		boots := junitCase{Name: "boots", Classname: class, Time: seconds(wall), Output: bootsString(k.Boots)}
		if len(k.Faults) > 0 {
			boots.Failure = &junitMessage{Message: k.Faults[0].String(), Type: string(Regression)}
			for _, f := range k.Faults {
				boots.Failure.Text += fmt.Sprintf("%s: %s (%v)\n", f, f.Reason, f.Boots)
			}
		}
		s.Cases = append(s.Cases, boots)
		for j := range k.Metrics {
			m := &k.Metrics[j]
			if m.Verdict == Informational {
				continue
			}
			tc := junitCase{Name: m.Key, Classname: class, Time: seconds(0),
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
	out.Time = seconds(total)
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

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
