package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/matrix"
	"github.com/kvet/kvet/kernels"
	"github.com/kvet/kvet/pipeline"
)

// cmdKernelsBuild builds a kernel from a source tree into the cache, as a
// matrix's source: entry does, and says what it did.
func cmdKernelsBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kernels build", "[flags] SOURCE", "build a kernel from a source tree (a directory, or a .tar.* of one) into the cache", stderr)
	name := fs.String("name", "", "the kernel's name (default: the source's base name)")
	ref := fs.String("ref", "", "a git commit or tag of the tree to build instead of its working copy")
	config := fs.String("config", "", "the starting config: a file or a make target (default defconfig)")
	var frags stringsFlag
	fs.Var(&frags, "fragment", "a config fragment: a file, or an inline CONFIG_X=y line (repeatable)")
	cacheFlag := fs.String("cache", "", "cache directory (default $XDG_CACHE_HOME/kvet)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInputf("kernels build: want one SOURCE, a kernel tree or a tarball of one")
	}
	spec := kernels.Spec{Name: *name, Source: pos[0], Ref: *ref, Config: kernels.ConfigSpec{Value: *config}, ConfigFragments: frags}
	if spec.Name == "" {
		spec.Name = matrix.KernelNameFromFile(strings.TrimSuffix(strings.TrimSuffix(pos[0], "/"), ".tar.xz"))
	}
	if err := matrix.CheckKernel(&spec); err != nil {
		return badInput(fmt.Errorf("kernels build: %w", err))
	}
	cache := *cacheFlag
	if cache == "" {
		if cache, err = pipeline.DefaultCacheDir(); err != nil {
			return infra(err)
		}
	}
	r := &kernels.Resolver{CacheDir: cache, Logger: slog.New(slog.NewTextHandler(stderr, nil)), Progress: stderr, Terminal: isTerminal(stderr)}
	k, info, err := r.Build(ctx, spec)
	if err != nil {
		return pipeline.KernelError(spec.Name, err)
	}
	state := "built"
	if info.Cached {
		state = "cached"
	}
	fmt.Fprintf(stdout, "%s: %s %s in %s (%s)\n", spec.Name, state, k.Release, info.Took.Round(time.Second), info.Tree)
	fmt.Fprintf(stdout, "  image   %s\n", k.Vmlinuz)
	if k.ModulesDir != "" {
		fmt.Fprintf(stdout, "  modules %s\n", k.ModulesDir)
	}
	fmt.Fprintf(stdout, "  log     %s\n", info.Log)
	if len(info.Added) > 0 {
		fmt.Fprintf(stdout, "  kvet added the guest's options: %s\n", strings.Join(info.Added, " "))
	}
	if len(info.Missing) > 0 {
		fmt.Fprintf(stdout, "  not in the final config (the guest may lack them): %s\n", strings.Join(info.Missing, " "))
	}
	return nil
}
