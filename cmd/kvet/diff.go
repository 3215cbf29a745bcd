package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kvet/kvet/results"
)

func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("diff", "OLD NEW [flags]", "compare two stored runs: each kernel of NEW against the kernel of the same name in OLD (or one kernel across both, with --kernel or --old-kernel/--new-kernel), with the verdicts of kvet run", stderr)
	var o results.DiffOptions
	fs.StringVar(&o.Kernel, "kernel", "", "compare only this kernel, OLD's boots against NEW's")
	fs.StringVar(&o.OldKernel, "old-kernel", "", "the baseline kernel in OLD (with --new-kernel)")
	fs.StringVar(&o.NewKernel, "new-kernel", "", "the candidate kernel in NEW (with --old-kernel)")
	fs.BoolVar(&o.AllowMixed, "allow-mixed", false, "compare timing metrics of runs from different hosts or accelerators (the report says so loudly)")
	format := fs.String("format", "text", "text, markdown, json, junit or html")
	out := fs.String("out", "", "write the report to this file instead of standard output")
	failOnFlag := fs.String("fail-on", "regression", "comma-separated verdicts that fail (exit 1), or none")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return badInputf("diff: want two run directories, OLD and NEW")
	}
	if err := results.CheckFormat(*format); err != nil {
		return badInput(err)
	}
	failOn, err := parseFailOn(*failOnFlag)
	if err != nil {
		return err
	}
	var sides [2]results.DiffSide
	for i, p := range pos {
		d, r, err := results.OpenDir(p)
		if err != nil {
			return badInput(err)
		}
		boots, err := d.Boots()
		if err != nil {
			return badInput(err)
		}
		sides[i] = results.DiffSide{Path: p, Run: r, Boots: boots}
	}
	o.Thresholds = runThresholds(sides[1].Run, stderr)
	diff, err := results.DiffRuns(sides[0], sides[1], o)
	var bad *results.BadDiffError
	if errors.As(err, &bad) {
		return badInput(err)
	} else if err != nil {
		return infra(err)
	}
	switch {
	case diff.Mixed != "" && o.AllowMixed:
		fmt.Fprintf(stderr, "WARNING: TIMINGS COMPARED ACROSS MACHINES (--allow-mixed): %s; a timing change may be the machine's, not the kernel's\n", diff.Mixed)
	case diff.Mixed != "":
		fmt.Fprintf(stderr, "warning: the runs differ in %s: timing metrics are not compared (--allow-mixed compares them anyway); counts and kernel state are\n", diff.Mixed)
	}
	for _, w := range diff.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}

	var buf bytes.Buffer
	if *format == "text" {
		oldRun, newRun := sides[0].Run, sides[1].Run
		fmt.Fprintf(&buf, "kvet diff: %s (run %s, %s) -> %s (run %s, %s)\n", pos[0], oldRun.ID, oldRun.Created.UTC().Format("2006-01-02 15:04 UTC"),
			pos[1], newRun.ID, newRun.Created.UTC().Format("2006-01-02 15:04 UTC"))
	}
	color := *out == "" && colorful(stdout)
	if err := results.Render(&buf, *format, diff.Comparison, nil, diff.Boots, color); err != nil {
		return infra(err)
	}
	if *out != "" {
		if err := results.WriteFileAtomic(*out, buf.Bytes()); err != nil {
			return infra(fmt.Errorf("diff: %w", err))
		}
	} else if _, err := stdout.Write(buf.Bytes()); err != nil {
		return infra(err)
	}
	if diff.Failed(failOn) {
		return errFailed
	}
	return nil
}
