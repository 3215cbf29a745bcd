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
	return nil
}
