package results

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteSummary prints the boots per kernel and a table of every metric's
// median (and range) across each kernel's ok boots.
func WriteSummary(w io.Writer, run *Run, boots []*Boot) {
	fmt.Fprintf(w, "run %s  accel %s  profile %s  baseline %s  host %s (%s)\n\n", run.ID, run.Accel, run.Profile, run.Baseline, run.Host.Hostname, run.Host.CPUModel)
	byKernel := map[string][]*Boot{}
	for _, b := range boots {
		byKernel[b.Kernel] = append(byKernel[b.Kernel], b)
	}
	writeOutcomes(w, run, boots, byKernel)
	writeMetricTable(w, run, boots)
}

// writeOutcomes prints each kernel's boots by outcome, then every failed
// boot with its console's tail.
func writeOutcomes(w io.Writer, run *Run, boots []*Boot, byKernel map[string][]*Boot) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRELEASE\tBOOTS\tOUTCOMES")
	for _, k := range run.Kernels {
		bs := byKernel[k.Name]
		count := map[Outcome]int{}
		for _, b := range bs {
			count[b.Outcome]++
		}
		var oc []string
		for _, o := range []Outcome{OK, KernelPanic, Hang, AgentError, InfraError} {
			if count[o] > 0 {
				oc = append(oc, fmt.Sprintf("%s %d", o, count[o]))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", k.Name, k.Release, len(bs), run.Boots, strings.Join(oc, ", "))
	}
	tw.Flush()
	for _, b := range boots {
		if b.Outcome != OK {
			fmt.Fprintf(w, "\n%s boot %d: %s: %s\n", b.Kernel, b.Index, b.Outcome, b.Reason)
			if b.ConsoleTail != "" {
				fmt.Fprintf(w, "  console tail:\n%s\n", indent(LastLines(b.ConsoleTail, 12), "    "))
			}
		}
	}
}

// writeMetricTable prints every metric's median (and range) across each
// kernel's ok boots, and the scenarios' notes and invalid results.
func writeMetricTable(w io.Writer, run *Run, boots []*Boot) {
	var names []string
	for _, k := range run.Kernels {
		names = append(names, k.Name)
	}
	// metric key -> kernel -> per-boot values
	vals := map[string]map[string][]float64{}
	units := map[string]string{}
	invalid := map[string]map[string]string{}
	var notes []string
	seenNote := map[string]bool{}
	for _, b := range boots {
		if b.Outcome != OK {
			continue
		}
		for _, s := range b.Scenarios {
			for _, n := range s.Notes {
				line := fmt.Sprintf("%s on %s: %s", s.Name, b.Kernel, n)
				if !seenNote[line] {
					seenNote[line] = true
					notes = append(notes, line)
				}
			}
			if !s.Valid {
				if invalid[s.Name] == nil {
					invalid[s.Name] = map[string]string{}
				}
				invalid[s.Name][b.Kernel] = s.Invalid
				continue
			}
			for _, m := range s.Metrics {
				key := s.Name + "/" + m.Name
				if vals[key] == nil {
					vals[key] = map[string][]float64{}
				}
				vals[key][b.Kernel] = append(vals[key][b.Kernel], m.Value)
				units[key] = m.Unit
			}
		}
	}
	if len(vals) == 0 {
		fmt.Fprintf(w, "\nno metrics recorded\n")
		return
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "\nmedian across ok boots [min .. max]\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "METRIC\tUNIT\t%s\t\n", strings.Join(names, "\t"))
	for _, key := range keys {
		row := []string{key, units[key]}
		for _, k := range names {
			v := vals[key][k]
			if len(v) == 0 {
				row = append(row, "-")
				continue
			}
			slices.Sort(v)
			cell := formatValue(median(v))
			if len(v) > 1 {
				cell += fmt.Sprintf(" [%s .. %s]", formatValue(v[0]), formatValue(v[len(v)-1]))
			}
			row = append(row, cell)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	if len(invalid)+len(notes) > 0 {
		fmt.Fprintln(w)
	}
	for s, ks := range invalid {
		for k, why := range ks {
			fmt.Fprintf(w, "invalid: %s on %s: %s\n", s, k, why)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// Median is the median of v (NaN for none); v is not modified.
func Median(v []float64) float64 { return median(v) }

func formatValue(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e12 && v > -1e12:
		return strconv.FormatInt(int64(v), 10)
	case v >= 100 || v <= -100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// LastLines returns the last n lines of s, without a final newline.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
