package runner

import "github.com/kvet/kvet/results"

// firstReport returns the console's first kernel report line (a panic, an
// oops, a BUG, a hung task, an RCU stall), without its time stamp: the first
// report is usually the cause, later ones its effects.
func firstReport(console string) (string, bool) {
	if d := results.DecisiveLines(console); len(d) > 0 {
		return d[0], true
	}
	return "", false
}

// consoleQuote is what a failed boot's reason quotes from the console: its
// first kernel report, or else its last line.
func consoleQuote(console string) string {
	if r, ok := firstReport(console); ok {
		return "console: " + r
	}
	return "last console line: " + lastLine(console)
}
