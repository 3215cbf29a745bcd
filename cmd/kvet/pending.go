package main

import (
	"context"
	"io"
)

func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return infra(errNotBuilt)
}
