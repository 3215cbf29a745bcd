package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/pipeline"
	"github.com/kvet/kvet/results"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = ""

func kvetVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Exit codes, documented in the README.
const (
	exitOK         = 0 // every boot ok, no failing verdict
	exitRegression = 1 // a kernel under test failed (panic, hang, agent error) or regressed
	exitBadInput   = 2 // bad flags, matrix file, kernel file or run directory
	exitInfra      = 3 // the machinery failed: QEMU missing, accel broken, download failed, disk
)

func badInput(err error) error { return &pipeline.Error{Kind: pipeline.BadInput, Err: err} }
func infra(err error) error    { return &pipeline.Error{Kind: pipeline.Infra, Err: err} }
func badInputf(format string, args ...any) error {
	return badInput(fmt.Errorf(format, args...))
}

// errFailed is returned when the run completed and its verdict fails it; the
// report has said why already.
var errFailed = &pipeline.Error{Kind: pipeline.KernelFailed, Err: errors.New("kvet: the candidate kernels failed (see the report)")}

// exitCode maps an error's kind to the exit code.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitBadInput
	}
	switch pipeline.KindOf(err) {
	case pipeline.KernelFailed:
		return exitRegression
	case pipeline.BadInput:
		return exitBadInput
	}
	return exitInfra
}

func cliMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, args, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) && err != errFailed {
		fmt.Fprintf(os.Stderr, "kvet: %v\n", err)
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitCode(err)
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "[MATRIX.yaml] [flags]", "boot every kernel of a matrix, run the scenarios, compare against the baseline", cmdRun},
		{"show", "RUNDIR", "print a run's per-kernel summary and verdicts", cmdShow},
		{"diff", "OLD NEW", "compare two stored runs", cmdDiff},
		{"bisect", "MATRIX.yaml --metric KEY", "find the first kernel of an ordered list (a package series) at which a metric changed", cmdBisect},
		{"repro", "RUNDIR [--kernel NAME] [--metric KEY]", "write a reproducer directory of a run's finding, for a kernel developer", cmdRepro},
		{"merge", "-out DIR SHARDDIR...", "merge shard run directories into one run", cmdMerge},
		{"kernels", "search|fetch|list|prune ...", "find, fetch and cache kernels", cmdKernels},
		{"scenarios", "", "list the scenarios, what each measures and which kernel change it would catch", cmdScenarios},
		{"scenario", "NAME [--param KEY=VALUE ...]", "run one scenario on this machine, no VM: reproduce a finding on real hardware", cmdScenario},
		{"init", "[FILE]", "write a commented example matrix (default kvet.yaml)", cmdInit},
		{"k8s-job", "[flags]", "write a Kubernetes Indexed Job manifest that runs a matrix in shards", cmdK8sJob},
		{"version", "", "print kvet's version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "kvet vets a Linux kernel before you upgrade to it.\n\nUsage:\n  kvet COMMAND [ARGS]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'kvet COMMAND --help' for a command's flags.\nExit codes: 0 pass, 1 regression or failed kernel, 2 bad input, 3 infrastructure failure.\n")
}

// run is the whole CLI; main only maps its error to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return badInputf("no command")
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return nil
	case "--version", "-version":
		return cmdVersion(ctx, nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return badInputf("unknown command %q", args[0])
}

// newFlags returns a FlagSet whose usage names the command.
func newFlags(name, argsUsage, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kvet "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: kvet %s %s\n\n%s.\n\nFlags:\n", name, argsUsage, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags wherever they stand among the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, badInput(err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "", "print kvet's version", stderr)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kvet %s %s %s/%s\n", kvetVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// parseFailOn reads --fail-on: verdict names, or none (an empty list).
func parseFailOn(s string) ([]results.Verdict, error) {
	vs, err := results.ParseFailOn(s)
	if err != nil {
		return nil, badInputf("--fail-on %q: %v", s, err)
	}
	return vs, nil
}

// runThresholds are the thresholds of a run's matrix; a run without a
// readable matrix uses the metrics' defaults.
func runThresholds(run *results.Run, stderr io.Writer) map[string]float64 {
	t, err := matrix.RunThresholds(run)
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v; using the default thresholds\n", err)
	}
	return t
}

// colorful reports whether w is a terminal that may show colours.
func colorful(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == ""
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
