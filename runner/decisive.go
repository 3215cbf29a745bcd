package runner

import (
	"regexp"
	"strings"
)

// reportLine matches the first line of a kernel report on the console: a
// panic, an oops, a BUG (soft lockup included), a WARNING, a hung task, an
// RCU stall. Boot chatter that merely mentions rcu or a watchdog does not.
var reportLine = regexp.MustCompile(`Kernel panic - not syncing|\bBUG: |\bOops[: ]|general protection fault|kernel BUG at |WARNING: CPU: |INFO: task .* blocked for more than|rcu: INFO: .*stall|self-detected stall`)

var timestamp = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s*`)

// firstReport returns the console's first kernel report line, without its
// timestamp: the first report is usually the cause, later ones its effects.
func firstReport(console string) (string, bool) {
	for _, l := range strings.Split(console, "\n") {
		if reportLine.MatchString(l) {
			return timestamp.ReplaceAllString(strings.TrimSpace(l), ""), true
		}
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
