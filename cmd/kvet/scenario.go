package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/guest"
	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/scenarios"
)

// cmdScenario runs one scenario on the machine kvet runs on, with no VM:
// the same code and metrics as in a guest, so that a finding reproduces on
// real hardware and real NICs.
func cmdScenario(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scenario", "NAME [--param KEY=VALUE ...] [flags]", "run one scenario on this machine (no VM), with the metrics it has in a guest", stderr)
	var params stringsFlag
	fs.Var(&params, "param", "a scenario parameter as KEY=VALUE, VALUE in YAML (exchanges=200, variants=[nodelay-off]) (repeatable)")
	profile := fs.String("profile", scenarios.Quick, "quick or full: the parameters' defaults")
	format := fs.String("format", "text", "text, json (the scenario's result as a boot records it) or kv (a line \"name value unit\" per metric, in the metric's own unit, as exec's kv format reads)")
	seed := fs.Int64("seed", 1, "seed of anything random in the scenario")
	timeout := fs.Duration("timeout", 10*time.Minute, "time limit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return badInputf("scenario: want one scenario name (kvet scenarios lists them)")
	}
	if *format != "text" && *format != "json" && *format != "kv" {
		return badInputf("scenario: --format %q: want text, json or kv", *format)
	}
	if *profile != scenarios.Quick && *profile != scenarios.Full {
		return badInputf("scenario: --profile %q: want quick or full", *profile)
	}
	name := pos[0]
	spec, err := scenarios.Lookup(name)
	if err != nil {
		return badInput(err)
	}
	p, err := matrix.ScenarioParams(name, *profile, params)
	if err != nil {
		return badInput(err)
	}
	if miss := scenarios.Missing(spec.Needs(p)); len(miss) > 0 {
		return badInputf("scenario %s cannot measure here: it needs\n  %s", name, strings.Join(miss, "\n  "))
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return infra(err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	runner := &guest.ExecRunner{Path: self}
	in := guest.Input{Profile: *profile, Params: raw, CPUs: runtime.NumCPU(), Seed: *seed}
	res := runner.RunScenario(ctx, name, in, func(line string) { fmt.Fprintln(stderr, line) })
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	case "kv":
		for _, m := range res.Metrics {
			fmt.Fprintf(stdout, "%s %s %s\n", m.Name, strconv.FormatFloat(m.Value, 'g', -1, 64), m.Unit)
		}
	default:
		writeScenario(stdout, &res)
	}
	switch {
	case res.Error != "":
		return infra(fmt.Errorf("scenario %s failed: %s", name, res.Error))
	case !res.Valid:
		return infra(fmt.Errorf("scenario %s could not hold its conditions: %s", name, res.Invalid))
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return infra(fmt.Errorf("scenario %s: did not finish within %s", name, *timeout))
	}
	return nil
}

// writeScenario prints a scenario's result as a table, with the machine it
// ran on.
func writeScenario(w io.Writer, s *results.Scenario) {
	var u unix.Utsname
	unix.Uname(&u)
	host, _ := os.Hostname()
	fmt.Fprintf(w, "%s on %s (Linux %s, %d CPUs), %s\nparams %s\n", s.Name, host, unix.ByteSliceToString(u.Release[:]), runtime.NumCPU(), s.Duration.Round(time.Millisecond), s.Params)
	if !s.Valid && s.Error == "" {
		fmt.Fprintf(w, "invalid: %s\n", s.Invalid)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tVALUE\tBETTER")
	for _, m := range s.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, results.FormatValue(m.Value, m.Unit), m.Better)
	}
	tw.Flush()
}
