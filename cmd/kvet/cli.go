package main

import (
	"fmt"
	"os"
)

// cliMain is replaced by the real command set.
func cliMain(args []string) int {
	fmt.Fprintln(os.Stderr, "kvet: not yet")
	return 2
}
