package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kvet/kvet/results"
)

func cmdShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", "RUNDIR", "print a run's verdicts, the answer first, then its per-kernel summary: boots and their outcomes, every metric's median across boots", stderr)
	metricsOnly := fs.Bool("metrics", false, "print the per-kernel metric table only, no verdicts")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	d, run, boots, err := openRunArg("show", fs, pos)
	if err != nil {
		return err
	}
	if *metricsOnly {
		results.WriteSummary(stdout, run, boots)
		return nil
	}
	// The answer first: the first screen says what changed.
	if err := showVerdicts(stdout, d, run, boots); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	results.WriteSummary(stdout, run, boots)
	if traced, err := d.TracedBoots(); err == nil && len(traced) > 0 {
		fmt.Fprintln(stdout)
		writeTraced(stdout, d.Path, traced)
	}
	return nil
}

// openRunArg opens the one run directory a command was given, with its
// recorded boots.
func openRunArg(cmd string, fs *flag.FlagSet, pos []string) (*results.Dir, *results.Run, []*results.Boot, error) {
	if len(pos) != 1 {
		fs.Usage()
		return nil, nil, nil, badInputf("%s: want one run directory", cmd)
	}
	d, run, err := results.OpenDir(pos[0])
	if err != nil {
		return nil, nil, nil, badInput(err)
	}
	boots, err := d.Boots()
	if err != nil {
		return nil, nil, nil, badInput(err)
	}
	return d, run, boots, nil
}
