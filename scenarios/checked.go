package scenarios

// checkedAgainst says, per scenario, which reference tool it was run
// against in the same guest and boot, with matched settings, and the
// ratios seen (kvet / reference). The agreement test in integration/
// repeats the check for timer and tcp-rr.
var checkedAgainst = map[string]string{
	"timer":     "cyclictest (rt-tests 2.4: -m -p95 -i1000 -t2 -a -h, unaligned as timer's default) in the same boot; see the README's agreement table for the ratios seen",
	"tcp-rr":    "sockperf 3.7 ping-pong (64 bytes, --full-rtt, client and server pinned as tcp-rr) in the same boot; see the README's agreement table for the ratios seen",
	"pipe":      "not yet: perf bench sched pipe (linux-perf) is the reference to run",
	"hackbench": "not yet: rt-tests' hackbench is the reference to run",
}

// CheckedAgainst returns the reference a scenario was checked against and
// the ratios seen, or "" when it has none.
func CheckedAgainst(name string) string { return checkedAgainst[name] }
