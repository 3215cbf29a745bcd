package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
)

//go:embed example.yaml
var exampleMatrix []byte

func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("init", "[FILE]", "write a commented example matrix (default kvet.yaml; - for standard output)", stderr)
	force := fs.Bool("force", false, "overwrite an existing file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	path := "kvet.yaml"
	if len(pos) > 1 {
		return badInputf("init: one file at most")
	}
	if len(pos) == 1 {
		path = pos[0]
	}
	if path == "-" {
		_, err := stdout.Write(exampleMatrix)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return badInputf("init: %s exists (use --force to overwrite)", path)
		}
		return badInput(fmt.Errorf("init: %w", err))
	}
	if _, err := f.Write(exampleMatrix); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s; run it with: kvet run %s\n", path, path)
	return nil
}
