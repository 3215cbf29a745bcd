package apt

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/kvet/kvet/internal/atomicfile"
)

// FileStamp identifies a file's content as far as the file system can tell
// without reading it: its inode, size, modification and change times. The
// change time cannot be set back by hand (touch -d sets only the others), so
// a file rewritten with its old size and mtime gets a new stamp.
func FileStamp(fi fs.FileInfo) string {
	s := fmt.Sprintf("%d\x00%d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s += fmt.Sprintf("\x00%d\x00%d\x00%d.%09d", st.Dev, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
	}
	return s
}

// verifiedPath is where the stamp of a cached file's last verification is
// kept: hidden, so cache listings skip it.
func verifiedPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".verified")
}

// RemoveCached removes a cached file and its verification stamp.
func RemoveCached(path string) {
	os.Remove(path)
	os.Remove(verifiedPath(path))
}

// cachedOK verifies a cached file against its SHA256 before it is used:
// cheaply when its stamp is the one recorded at its last verification,
// by reading it otherwise. A file that does not match is removed, with a
// warning, to be fetched again.
func (f *Fetcher) cachedOK(path, sum, name string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	stamp := FileStamp(fi)
	if b, err := os.ReadFile(verifiedPath(path)); err == nil && string(b) == stamp+"\x00"+sum {
		return true
	}
	got, err := fileSHA256(path)
	if err == nil && got == sum {
		f.markVerified(path, sum)
		return true
	}
	f.warn("cached file corrupt: removed, fetching it again", "name", name, "path", path, "sha256", got, "want", sum, "err", err)
	RemoveCached(path)
	return false
}

func (f *Fetcher) warn(msg string, args ...any) {
	if f.Logger != nil {
		f.Logger.Warn(msg, args...)
	}
}

// markVerified records that path, as it is now, has SHA256 sum.
func (f *Fetcher) markVerified(path, sum string) {
	fi, err := os.Stat(path)
	if err == nil {
		err = atomicfile.Write(verifiedPath(path), []byte(FileStamp(fi)+"\x00"+sum))
	}
	if err != nil {
		f.warn("cache stamp not written", "path", path, "err", err)
	}
}

// readKept reads a cached index selection if its sha256 is the recorded
// one; otherwise it says why with a warning and returns nil, and the index
// is fetched again.
func (c *Client) readKept(path, sum string) []byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if got := sha256Hex(raw); got != sum {
		if c.Logger != nil {
			c.Logger.Warn("cached index corrupt: fetching it again", "path", path, "sha256", got, "want", sum)
		}
		return nil
	}
	return raw
}
