package scenarios

// checkedAgainst says, per scenario, which reference tool it was run
// against in the same guest and boot with matched settings, and the ratios
// seen (kvet / reference). The agreement test in integration/ repeats the
// check for timer and tcp-rr; the README's agreement table has the
// figures per boot.
var checkedAgainst = map[string]string{
	"timer": "cyclictest (rt-tests 2.4, -m -p95 -i1000 -t2 -a -h: unaligned starts and distance 0, as timer's defaults) in the same boot, fifo-1ms; " +
		"under TCG on one vCPU with a CI run beside it on 2 cores, p50 0.83-1.33x and p99 0.93-1.21x over 8 boots (within 15%/25% in 3 of 4 boots in one run, 1 of 4 in the other, where cyclictest against itself differed by up to 34%); on two vCPUs at load 20, p50 0.76-1.64x and p99 0.05-1.43x; before the raw system calls and unaligned starts, p50 1.04-1.53x",
	"tcp-rr": "sockperf 3.7 ping-pong (64 bytes, --full-rtt, client and server processes pinned as tcp-rr) in the same boot; " +
		"under TCG on one vCPU with a CI run beside it on 2 cores, p50 1.03-1.19x and p99 1.06-1.54x over 4 boots with the server a process (server: process, the default), p50 0.28-0.37x with it a thread of the measuring process (a thread switch per message instead of a process switch); on two vCPUs at load 20, p50 0.49-5.53x and p99 0.61-2.98x, where sockperf against itself differed as much; before the raw system calls, p50 1.8-2.9x in 3 of 4 boots",
	"pipe":      "perf bench sched pipe -T (linux-perf 6.1) pinned to one CPU, in the same boot under TCG: pipe-same round trips per second 0.75x perf's (kvet times every round trip, perf only the whole run); one boot, measured with pipe's reads and writes raw, which pipe does not keep yet",
	"hackbench": "rt-tests' hackbench -T -g 2 -f 5 -l 100 (the quick profile's shape) in the same boot under TCG: time 1.18x; one boot",
}

// CheckedAgainst returns the reference a scenario was checked against and
// the ratios seen, or "" when it has none.
func CheckedAgainst(name string) string { return checkedAgainst[name] }
