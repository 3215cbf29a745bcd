package main

import (
	"fmt"
	"io"

	"github.com/kvet/kvet/results"
)

// showVerdicts prints the comparison of a run against its baseline, with the
// thresholds of the run's own matrix.
func showVerdicts(w io.Writer, d *results.Dir, run *results.Run, boots []*results.Boot) error {
	if run.Shard != "" {
		fmt.Fprintf(w, "\nshard %s of run %s: no verdicts until the shards are merged (kvet merge)\n", run.Shard, run.ID)
		return nil
	}
	c, err := results.CompareRun(d, run, boots, runThresholds(run, w))
	if err != nil {
		return err
	}
	return results.WriteText(w, c, run, colorful(w))
}
