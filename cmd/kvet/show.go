package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kvet/kvet/results"
)

func cmdShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", "RUNDIR", "print a run's per-kernel summary: boots and their outcomes, every metric's median across boots, and the verdicts", stderr)
	metricsOnly := fs.Bool("metrics", false, "print the per-kernel metric table only, no verdicts")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return badInputf("show: want one run directory")
	}
	d, run, err := results.OpenDir(pos[0])
	if err != nil {
		return badInput(err)
	}
	boots, err := d.Boots()
	if err != nil {
		return badInput(err)
	}
	writeSummary(stdout, run, boots)
	if *metricsOnly {
		return nil
	}
	return showVerdicts(stdout, run, boots)
}

// writeSummary prints the boots per kernel and a table of every metric's
// median (and range) across each kernel's ok boots.
func writeSummary(w io.Writer, run *results.Run, boots []*results.Boot) {
	fmt.Fprintf(w, "run %s  accel %s  profile %s  baseline %s  host %s (%s)\n\n", run.ID, run.Accel, run.Profile, run.Baseline, run.Host.Hostname, run.Host.CPUModel)
	byKernel := map[string][]*results.Boot{}
	for _, b := range boots {
		byKernel[b.Kernel] = append(byKernel[b.Kernel], b)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tRELEASE\tBOOTS\tOUTCOMES")
	var names []string
	for _, k := range run.Kernels {
		names = append(names, k.Name)
		bs := byKernel[k.Name]
		count := map[results.Outcome]int{}
		for _, b := range bs {
			count[b.Outcome]++
		}
		var oc []string
		for _, o := range []results.Outcome{results.OK, results.KernelPanic, results.Hang, results.AgentError, results.InfraError} {
			if count[o] > 0 {
				oc = append(oc, fmt.Sprintf("%s %d", o, count[o]))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", k.Name, k.Release, len(bs), run.Boots, strings.Join(oc, ", "))
	}
	tw.Flush()
	for _, b := range boots {
		if b.Outcome != results.OK {
			fmt.Fprintf(w, "\n%s boot %d: %s: %s\n", b.Kernel, b.Index, b.Outcome, b.Reason)
			if b.ConsoleTail != "" {
				fmt.Fprintf(w, "  console tail:\n%s\n", indent(lastLines(b.ConsoleTail, 12), "    "))
			}
		}
	}

	// metric key -> kernel -> per-boot values
	vals := map[string]map[string][]float64{}
	units := map[string]string{}
	invalid := map[string]map[string]string{}
	var notes []string
	seenNote := map[string]bool{}
	for _, b := range boots {
		if b.Outcome != results.OK {
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
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
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

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

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

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
