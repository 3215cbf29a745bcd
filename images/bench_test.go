package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kvet/kvet/kernels"
)

// BenchmarkBuild measures building an image for the real kernel in
// KVET_TEST_DEB with the kvet binary as /init: cold (empty cache, a new
// process's builder) and cached.
func BenchmarkBuild(b *testing.B) {
	deb := os.Getenv("KVET_TEST_DEB")
	if deb == "" {
		b.Skip("KVET_TEST_DEB not set")
	}
	dir := b.TempDir()
	k, err := kernels.FromDeb(context.Background(), deb, dir)
	if err != nil {
		b.Fatal(err)
	}
	init := filepath.Join(dir, "kvet")
	cmd := exec.Command("go", "build", "-o", init, "./cmd/kvet")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build kvet: %v: %s", err, out)
	}
	spec := Spec{Init: init, Kernel: k, Modules: DefaultModules}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			img, err := (&Builder{CacheDir: b.TempDir()}).Build(context.Background(), spec)
			if err != nil || img.Cached {
				b.Fatalf("Build() = cached %v, %v; want a fresh image", img != nil && img.Cached, err)
			}
		}
	})
	b.Run("cached-new-builder", func(b *testing.B) {
		// A new process: the kvet binary is hashed and modules resolved again.
		dir := b.TempDir()
		if _, err := (&Builder{CacheDir: dir}).Build(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			img, err := (&Builder{CacheDir: dir}).Build(context.Background(), spec)
			if err != nil || !img.Cached {
				b.Fatalf("Build() = cached %v, %v; want the cached image", img != nil && img.Cached, err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		bl := &Builder{CacheDir: filepath.Join(dir, "warm")}
		if _, err := bl.Build(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			img, err := bl.Build(context.Background(), spec)
			if err != nil || !img.Cached {
				b.Fatalf("Build() = cached %v, %v; want the cached image", img != nil && img.Cached, err)
			}
		}
	})
}
