package scenarios

import (
	"os"
	"testing"
)

// The test binary serves tcp-rr's server process as kvet does: started as
// `TEST-BINARY tcp-echo CPU SIZE`, it is that process and runs no tests.
func TestMain(m *testing.M) {
	if len(os.Args) >= 2 && os.Args[1] == TCPEchoVerb {
		os.Exit(TCPEchoMain(os.Args[2:]))
	}
	ServesChildren = true
	os.Exit(m.Run())
}
