package runner

import (
	"bytes"
	"io"
	"os"
	"time"
)

// consolePanicMarker is the line every kernel panic prints, whatever panic=
// says: with panic=0 (or a kernel built with CONFIG_PANIC_TIMEOUT=0 and no
// pvpanic) the guest then spins silently, and only the console tells.
var consolePanicMarker = []byte("Kernel panic - not syncing")

// consolePoll is how often the console file is read for a panic.
const consolePoll = 250 * time.Millisecond

// watchConsole reads the console file as QEMU writes it and closes found at
// the first kernel panic line. It returns when stop is closed.
func watchConsole(path string, stop <-chan struct{}, found chan<- struct{}) {
	t := time.NewTicker(consolePoll)
	defer t.Stop()
	var (
		off  int64
		keep []byte // the end of the last read: a marker may span two reads
		buf  = make([]byte, 64<<10)
	)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		f, err := os.Open(path)
		if err != nil {
			continue // QEMU has not created it yet
		}
		for {
			n, err := f.ReadAt(buf, off)
			if n > 0 {
				off += int64(n)
				data := append(keep, buf[:n]...)
				if bytes.Contains(data, consolePanicMarker) {
					f.Close()
					close(found)
					return
				}
				keep = append([]byte(nil), data[max(0, len(data)-len(consolePanicMarker)):]...)
			}
			if err == io.EOF || n == 0 || err != nil {
				break
			}
		}
		f.Close()
	}
}
