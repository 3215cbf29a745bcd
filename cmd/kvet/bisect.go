package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/pipeline"
)

// cmdBisect finds the first kernel of a matrix's ordered kernels (a package
// series) at which a metric changed.
func cmdBisect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bisect", "MATRIX.yaml --metric SCENARIO/METRIC [flags]", "find the first kernel of the matrix's ordered kernels (a series: oldest first; the first is good, the last bad) at which the metric changed, booting each step beside the nearest good and bad kernels", stderr)
	metric := fs.String("metric", "", "the metric key whose change to find, as the reports name it (idle-restart/cubic.cwnd_after_ratio)")
	dir := fs.String("dir", "", "the bisection's directory: its state and each step's run; an existing one is resumed (default bisect-YYYYMMDD-HHMMSS)")
	dry := fs.Bool("dry-run", false, "list the kernels and the first step without booting")
	var boots matrix.BootCount
	fs.Var(&boots, "boots", "boots per kernel in each step, or auto (default: the matrix's)")
	parallel := fs.Int("parallel", 0, "guests at once (default: as many as the host's CPUs allow)")
	cacheDir := fs.String("cache", "", "cache directory (default $XDG_CACHE_HOME/kvet or ~/.cache/kvet)")
	qemu := fs.String("qemu", "qemu-system-x86_64", "the QEMU binary")
	quiet := fs.Bool("quiet", false, "only the steps and the result")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *metric == "" {
		fs.Usage()
		return badInputf("bisect: want a matrix file and --metric")
	}
	m, err := matrix.Load(pos[0])
	if err != nil {
		return badInput(err)
	}
	if err := m.Apply(matrix.Override{Boots: boots}); err != nil {
		return badInput(err)
	}
	if *dir == "" {
		*dir = "bisect-" + time.Now().Format("20060102-150405")
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	o := pipeline.BisectOptions{Matrix: m, Metric: *metric, Dir: *dir, DryRun: *dry, Out: stdout,
		Run: pipeline.Options{CacheDir: *cacheDir, QEMU: *qemu, Parallel: *parallel, Retries: 2, Confirm: 1, Version: kvetVersion(),
			Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}}
	start := time.Now()
	b, err := pipeline.Bisect(ctx, o)
	if err != nil {
		if b != nil {
			fmt.Fprintf(stderr, "bisect: stopped after %d steps; continue with: kvet bisect %s --metric %s --dir %s\n", len(b.Steps), pos[0], *metric, *dir)
		}
		return err
	}
	if !*dry {
		fmt.Fprintf(stdout, "%s; %d steps in %s; state and runs in %s\n", b.Result(), len(b.Steps), time.Since(start).Round(time.Second), *dir)
	}
	return nil
}
