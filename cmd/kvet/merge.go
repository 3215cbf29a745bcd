package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kvet/kvet/results"
)

func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", "-out DIR SHARDDIR...", "merge the run directories of the shards of one run (kvet run --shard I/N) into one run", stderr)
	out := fs.String("out", "", "the merged run directory (required; must not exist)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) == 0 {
		fs.Usage()
		return badInputf("merge: need -out DIR and at least one shard directory")
	}
	run, err := results.Merge(*out, pos)
	if err != nil {
		return badInput(err)
	}
	fmt.Fprintf(stdout, "merged %d shards of run %s into %s; see it with: kvet show %s\n", len(pos), run.ID, *out, *out)
	d, _, err := results.OpenDir(*out)
	if err != nil {
		return infra(err)
	}
	var missing int
	for _, e := range run.Plan {
		if !d.HasBoot(e.Kernel, e.Index) {
			missing++
		}
	}
	if missing > 0 {
		fmt.Fprintf(stderr, "kvet: warning: %d of the plan's %d boots are in no shard; run them with: kvet run --resume %s\n", missing, len(run.Plan), *out)
	}
	return nil
}
