package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/pipeline"
)

func cmdKernels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintf(stderr, `Usage: kvet kernels COMMAND [flags] [ARGS]

Commands:
  search PATTERN     available kernel packages matching a glob or substring, newest first
  fetch SPEC...      download, verify and extract kernels (a package or meta-package, PACKAGE/SUITE, a .deb path or URL)
  build SOURCE       build a kernel from a source tree (-ref, -config, -fragment; see kvet kernels build -h)
  list               the kernels in the cache
  prune [KEEP...]    remove cached kernels, except those named (sha256 prefix, package, or package=version)

Flags (every command): -mirror URL, -suite SUITES, -keyring FILE, -cache DIR
`)
	}
	if len(args) == 0 {
		usage()
		return badInputf("kernels: no command")
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		usage()
		return nil
	}
	if sub == "build" {
		return cmdKernelsBuild(ctx, args, stdout, stderr)
	}
	fs := newFlags("kernels "+sub, "[flags] ARGS", "see kvet kernels --help", stderr)
	mirror := fs.String("mirror", "", "Debian-style archive URL (default: the host's apt sources)")
	suite := fs.String("suite", "", "archive suite(s), space separated; alone: the host's archives with these suites")
	keyring := fs.String("keyring", "", "OpenPGP keyring that signs the archive (default: the system's)")
	cacheFlag := fs.String("cache", "", "cache directory (default $XDG_CACHE_HOME/kvet)")
	debOnly := fs.Bool("deb-only", false, "fetch: download and verify packages without extracting them, and print each kernel's cached .deb paths (a split kernel's on one line)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	cache := *cacheFlag
	if cache == "" {
		if cache, err = pipeline.DefaultCacheDir(); err != nil {
			return infra(err)
		}
	}
	r := &kernels.Resolver{
		CacheDir: cache,
		Archive:  kernels.Archive{Mirror: *mirror, Suite: *suite, Keyring: *keyring},
		Logger:   slog.New(slog.NewTextHandler(stderr, nil)),
		Progress: stderr, Terminal: isTerminal(stderr),
	}
	switch sub {
	case "search":
		return kernelsSearch(ctx, r, pos, stdout)
	case "fetch":
		return kernelsFetch(ctx, r, pos, *debOnly, stdout)
	case "list":
		entries, err := r.List()
		if err != nil {
			return infra(err)
		}
		return writeCacheEntries(stdout, entries)
	case "prune":
		removed, err := r.Prune(pos...)
		if err != nil {
			return infra(err)
		}
		fmt.Fprintf(stdout, "removed %d cached files\n", len(removed))
		return writeCacheEntries(stdout, removed)
	}
	usage()
	return badInputf("kernels: unknown command %q", sub)
}

// specFromArg reads a fetch argument: a .deb path or URL, or a package name
// with an optional /SUITE.
func specFromArg(arg string) kernels.Spec {
	s := kernels.Spec{Name: matrix.KernelNameFromFile(arg)}
	switch {
	case len(arg) > 4 && arg[len(arg)-4:] == ".deb":
		s.Deb = arg
	default:
		s.Name, s.Package = arg, arg
		if pkg, suite, ok := matrix.PackageArg(arg); ok {
			s.Package, s.Suite = pkg, suite
		}
	}
	return s
}

func writeCacheEntries(w io.Writer, entries []kernels.CacheEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tVERSION\tSIZE\tFETCHED\tSHA256")
	for _, e := range entries {
		name := e.Package
		if name == "" {
			name = e.URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f MB\t%s\t%.16s\n", name, e.Version, float64(e.Size)/1e6, e.Fetched.Format("2006-01-02 15:04"), e.SHA256)
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// fetchDebs downloads and verifies packages (a meta-package: what it
// resolves to) and prints each kernel's cached .deb paths, one kernel per
// line.
func fetchDebs(ctx context.Context, r *kernels.Resolver, pkgs []string, stdout io.Writer) error {
	for _, pkg := range pkgs {
		pvs, err := r.Lookup(ctx, kernels.Spec{Name: pkg, Package: pkg})
		if err != nil {
			return pipeline.KernelError(pkg, err)
		}
		for _, pv := range pvs {
			if pv.Resolved != nil {
				pv = *pv.Resolved
			}
			paths, err := r.FetchKernel(ctx, pv)
			if err != nil {
				return pipeline.KernelError(pkg, err)
			}
			// A kernel split over several packages prints them all on one
			// line, the image's first.
			fmt.Fprintln(stdout, strings.Join(paths, " "))
		}
	}
	return nil
}

// kernelsSearch prints the packages that match a pattern, newest first.
func kernelsSearch(ctx context.Context, r *kernels.Resolver, pos []string, stdout io.Writer) error {
	if len(pos) != 1 {
		return badInputf("kernels search: want one PATTERN, e.g. 'linux-image-6.12.*-cloud-amd64'")
	}
	found, err := r.Search(ctx, pos[0])
	if err != nil {
		return pipeline.KernelError(pos[0], err)
	}
	if len(found) == 0 {
		return badInputf("kernels search: nothing matches %q", pos[0])
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tVERSION\tSUITE\tCACHED\tRESOLVES TO")
	for _, p := range found {
		to := ""
		if p.Resolved != nil {
			to = p.Resolved.Package + " " + p.Resolved.Version
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Package, p.Version, p.Suite, yesNo(p.Cached), to)
	}
	return tw.Flush()
}

// kernelsFetch resolves, downloads, verifies and extracts kernels (with
// debOnly: downloads and verifies packages only) and prints what it got.
func kernelsFetch(ctx context.Context, r *kernels.Resolver, pos []string, debOnly bool, stdout io.Writer) error {
	if len(pos) == 0 {
		return badInputf("kernels fetch: name at least one kernel")
	}
	if debOnly {
		return fetchDebs(ctx, r, pos, stdout)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPACKAGE\tVERSION\tRELEASE\tSHA256")
	for _, arg := range pos {
		spec := specFromArg(arg)
		ks, err := r.Resolve(ctx, spec)
		if err != nil {
			return pipeline.KernelError(arg, err)
		}
		for _, k := range ks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.16s\n", k.Name, k.Package, k.Version, k.Release, k.SHA256)
		}
	}
	return tw.Flush()
}
