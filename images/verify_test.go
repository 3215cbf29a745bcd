package images

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// A cached image that is no longer what was built is built again with a
// warning; its recorded SHA256 is the image's own.
func TestBuildRebuildsCorruptImage(t *testing.T) {
	fx := newFixture(t)
	var log bytes.Buffer
	b := &Builder{CacheDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil))}
	first, err := b.Build(context.Background(), fx.spec())
	must(t, err)
	if sum, _ := fileSHA256(first.Path); first.SHA256 != sum {
		t.Fatalf("Build().SHA256 = %s, the image's is %s", first.SHA256, sum)
	}
	good, _ := os.ReadFile(first.Path)
	for name, tamper := range map[string]func(){
		"bit flipped": func() { bad := bytes.Clone(good); bad[len(bad)/2] ^= 1; os.WriteFile(first.Path, bad, 0o644) },
		"truncated":   func() { os.WriteFile(first.Path, good[:len(good)/2], 0o644) },
		"no sum":      func() { os.Remove(sumPath(first.Path)) },
	} {
		t.Run(name, func(t *testing.T) {
			log.Reset()
			tamper()
			img, err := b.Build(context.Background(), fx.spec())
			must(t, err)
			got, _ := os.ReadFile(img.Path)
			if img.Cached || !bytes.Equal(got, good) || img.SHA256 != first.SHA256 {
				t.Errorf("Build(%s cache) = cached %v, sha256 %s; want a rebuilt image %s", name, img.Cached, img.SHA256, first.SHA256)
			}
			if !strings.Contains(log.String(), "cached image corrupt") {
				t.Errorf("Build(%s cache) gave no warning; log:\n%s", name, log.String())
			}
		})
	}
}
