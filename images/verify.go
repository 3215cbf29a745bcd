package images

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kvet/kvet/internal/atomicfile"
)

// An image's own SHA256 is kept next to it (PATH.sha256), written when it is
// built and checked whenever the cache offers it: a cached image that is no
// longer what was built is built again, never booted.

func sumPath(img string) string { return img + ".sha256" }

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// recordSum hashes a freshly built image and keeps its hash.
func recordSum(img *Image) error {
	sum, err := fileSHA256(img.Path)
	if err != nil {
		return err
	}
	img.SHA256 = sum
	return atomicfile.Write(sumPath(img.Path), []byte(sum+"\n"))
}

// cached reports whether img.Path is in the cache and still the image that
// was built (filling img.SHA256). Holding the image's lock, a corrupt or
// unverifiable one is removed with a warning, to be built again; without
// it, one may be in the middle of its writing, and is left alone.
func cached(img *Image, log *slog.Logger, locked bool) bool {
	if _, err := os.Stat(img.Path); err != nil {
		return false
	}
	want, err := os.ReadFile(sumPath(img.Path))
	got, herr := fileSHA256(img.Path)
	if err == nil && herr == nil && strings.TrimSpace(string(want)) == got {
		img.SHA256 = got
		return true
	}
	if !locked {
		return false
	}
	log.Warn("cached image corrupt or unverifiable: building it again", "path", img.Path, "sha256", got, "recorded", strings.TrimSpace(string(want)), "err", errorsJoin(err, herr))
	os.Remove(img.Path)
	os.Remove(sumPath(img.Path))
	return false
}

func errorsJoin(a, b error) string {
	switch {
	case a != nil:
		return a.Error()
	case b != nil:
		return b.Error()
	}
	return ""
}
