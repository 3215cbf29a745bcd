package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// progress shows a pool's events: a live bar on a terminal, plain lines
// off one, JSON lines for other programs, or failures only.
type progress struct {
	w     io.Writer
	mode  string // "bar", "plain", "json", "quiet"
	bar   *progressbar.ProgressBar
	total int
}

func newProgress(w io.Writer, mode string, total int) *progress {
	p := &progress{w: w, mode: mode, total: total}
	if mode == "bar" {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("boots"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

func (p *progress) event(ev runner.Event) {
	switch p.mode {
	case "json":
		b, _ := json.Marshal(ev)
		fmt.Fprintf(p.w, "%s\n", b)
	case "bar":
		if ev.Kind == "end" && ev.Outcome != "ok" {
			p.bar.Clear()
			fmt.Fprintf(p.w, "%s %s: %s: %s\n", ev.Entry.Kernel, bootName(ev.Entry), ev.Outcome, ev.Reason)
		}
		if ev.Kind == "end" || ev.Kind == "skip" {
			p.bar.Describe(fmt.Sprintf("boots (%d failed)", ev.Failed))
			p.bar.Set(ev.Done)
		}
	case "plain", "quiet":
		switch {
		case ev.Kind == "end" && (p.mode == "plain" || ev.Outcome != "ok"):
			left := ""
			if ev.Left > 0 {
				left = fmt.Sprintf(", ~%s left", ev.Left.Round(time.Second))
			}
			fmt.Fprintf(p.w, "[%d/%d] %s %s: %s in %s (elapsed %s%s, %d failed)", ev.Done, ev.Total,
				ev.Entry.Kernel, bootName(ev.Entry), ev.Outcome, ev.Wall.Round(100*time.Millisecond), ev.Elapsed.Round(time.Second), left, ev.Failed)
			if ev.Reason != "" && ev.Outcome != "ok" {
				fmt.Fprintf(p.w, ": %s", ev.Reason)
			}
			fmt.Fprintln(p.w)
		case ev.Kind == "retry":
			fmt.Fprintf(p.w, "%s %s: attempt %d: %s, retrying: %s\n", ev.Entry.Kernel, bootName(ev.Entry), ev.Attempt, ev.Outcome, ev.Reason)
		case ev.Kind == "confirm":
			fmt.Fprintf(p.w, "%s %s: attempt %d: %s, booting again to see whether it reproduces: %s\n", ev.Entry.Kernel, bootName(ev.Entry), ev.Attempt, ev.Outcome, ev.Reason)
		}
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// bootName names a plan entry's boot in progress lines: "boot 3", or
// "traced boot" for a kernel's traced boot.
func bootName(e results.PlanEntry) string {
	if e.Trace {
		if e.Index == 0 {
			return "traced boot"
		}
		return fmt.Sprintf("traced boot %d", e.Index)
	}
	return fmt.Sprintf("boot %d", e.Index)
}
