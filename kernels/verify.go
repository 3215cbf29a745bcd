package kernels

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"

	"github.com/kvet/kvet/kernels/apt"
)

// treeSums describes an extraction's files: Content hashes their names,
// modes and bytes; Stamps hashes their names and file stamps, which change
// whenever a file is written, so that a use of the cache checks a tree with
// one stat per file and reads it only when a stamp moved.
type treeSums struct {
	Content, Stamps string
}

// sumTree computes dir's sums, skipping the meta file; withContent reads
// every file.
func sumTree(dir string, withContent bool) (treeSums, error) {
	content, stamps := sha256.New(), sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == metaFile || rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(stamps, "%s\x00%s\x00", rel, apt.FileStamp(fi))
		if !withContent {
			return nil
		}
		fmt.Fprintf(content, "%s\x00%o\x00", rel, fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(content, f); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(path)
			if err != nil {
				return err
			}
			io.WriteString(content, t)
		}
		content.Write([]byte{0})
		return nil
	})
	if err != nil {
		return treeSums{}, err
	}
	s := treeSums{Stamps: hex.EncodeToString(stamps.Sum(nil))}
	if withContent {
		s.Content = hex.EncodeToString(content.Sum(nil))
	}
	return s, nil
}

// errCorruptExtraction is an extraction whose files are not the ones kvet
// extracted.
var errCorruptExtraction = errors.New("extraction changed since kvet wrote it")

// verifyExtraction checks a reused extraction against the sums recorded
// when it was made; an extraction without them (older kvet) counts as
// corrupt, so that it is redone once and verified from then on.
func verifyExtraction(dir string, m *debMeta) error {
	if m.Tree.Content == "" {
		return fmt.Errorf("%s: %w (no recorded hash)", dir, errCorruptExtraction)
	}
	s, err := sumTree(dir, false)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if s.Stamps == m.Tree.Stamps {
		return nil
	}
	if s, err = sumTree(dir, true); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if s.Content != m.Tree.Content {
		return fmt.Errorf("%s: %w: content sha256 %s, recorded %s", dir, errCorruptExtraction, s.Content, m.Tree.Content)
	}
	return nil
}

// dropExtraction removes a corrupt extraction under its lock, so that it is
// made again.
func dropExtraction(root, sum string) error {
	lock := flock.New(filepath.Join(root, sum) + ".lock")
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer lock.Unlock()
	return os.RemoveAll(filepath.Join(root, sum))
}
