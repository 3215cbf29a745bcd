package scenarios

// checkedAgainst says, per scenario, which reference tool it was run
// against in the same guest and boot with matched settings, and the ratios
// seen (kvet / reference). The agreement test in integration/ repeats the
// check for timer and tcp-rr; the README's agreement table has the
// figures per boot.
var checkedAgainst = map[string]string{
	"timer": "cyclictest (rt-tests 2.4, -m -p95 -i1000 -t2 -a -h: unaligned starts and distance 0, as timer's defaults) in the same boot, fifo-1ms; " +
		"under TCG on one vCPU with one to four CPU hogs beside it on 2 cores and QEMU at nice -10, p50 0.85-1.27x and p99 0.89-1.50x over 12 boots (within 15%/25% in 3 of 4 boots in two runs of four, 1-2 of 4 in the third, where cyclictest against itself differed by up to 30% at p50 and 40% at p99); on a quiet host 0.78-1.01x and 0.80-1.01x (3 of 4); on two vCPUs at load 20, p50 0.76-1.64x and p99 0.05-1.43x; before the raw system calls and unaligned starts, p50 1.04-1.53x",
	"tcp-rr": "sockperf 3.7 ping-pong (64 bytes, --full-rtt, client and server processes pinned as tcp-rr) in the same boot; " +
		"under TCG on one vCPU with four CPU hogs beside it on 2 cores and QEMU at nice -10, six runs of each per boot: p50 0.94-1.08x and p99 0.86-1.09x, within 15%/25% in 4 of 4 boots; on a quiet host (four runs) p50 0.99-1.06x and p99 0.66-1.06x (3 of 4). Before the window loops stopped yielding to the Go scheduler every 10 ms (self-noise 210-230 switches/s, now 18-37), p99 was 1.38-1.92x with p50 agreeing; with the server a thread of the measuring process, p50 0.28-0.37x; on two vCPUs at load 20, p50 0.49-5.53x and p99 0.61-2.98x, where sockperf against itself differed as much; before the raw system calls, p50 1.8-2.9x in 3 of 4 boots",
	"pipe":      "perf bench sched pipe -T (linux-perf 6.1) pinned to one CPU, in the same boot under TCG: pipe-same round trips per second 0.75x perf's (kvet times every round trip, perf only the whole run); one boot, measured with pipe's reads and writes raw, which pipe does not keep yet",
	"hackbench": "rt-tests' hackbench -T -g 2 -f 5 -l 100 (the quick profile's shape) in the same boot under TCG: time 1.18x; one boot",
}

// CheckedAgainst returns the reference a scenario was checked against and
// the ratios seen, or "" when it has none.
func CheckedAgainst(name string) string { return checkedAgainst[name] }
