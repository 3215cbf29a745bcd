// Command kvet vets a Linux kernel before you upgrade to it: it boots each
// kernel of a matrix in QEMU, runs latency and scheduler/TCP scenarios inside
// and compares every kernel against a baseline.
package main

import (
	"os"

	"github.com/kvet/kvet/guest"
	"github.com/kvet/kvet/scenarios"
	"github.com/kvet/kvet/scenarios/memsys"
)

func main() {
	// The same binary is the guest agent: as PID 1 (the initramfs's /init)
	// and as the per-scenario child processes it starts.
	if os.Getpid() == 1 {
		guest.Main()
	}
	scenarios.ServesChildren = true
	if len(os.Args) >= 2 && os.Args[1] == scenarios.TCPEchoVerb {
		os.Exit(scenarios.TCPEchoMain(os.Args[2:]))
	}
	if len(os.Args) >= 2 && os.Args[1] == memsys.RoleVerb {
		os.Exit(memsys.RoleMain(os.Args[2:]))
	}
	if len(os.Args) == 3 && os.Args[1] == guest.ChildVerb {
		os.Exit(guest.ScenarioMain(os.Args[2]))
	}
	os.Exit(cliMain(os.Args[1:]))
}
