package memsys

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSwapHeader checks the first page against struct swap_header of
// include/linux/swap.h: bootbits[1024], then version, last_page and
// nr_badpages (u32, little-endian on x86), uuid[16], volume_name[16], and
// "SWAPSPACE2" in the page's last 10 bytes.
func TestSwapHeader(t *testing.T) {
	page := int64(os.Getpagesize())
	tests := []struct {
		name     string
		size     int64
		lastPage uint32
	}{
		{"1 MiB", 1 << 20, uint32(1<<20/page - 1)},
		{"256 MiB", 256 << 20, uint32(256<<20/page - 1)},
		{"not a whole number of pages", 10*page + page/2, 9},
		{"smallest", 10 * page, 9},
		{"largest", (1 << 32) * page, 1<<32 - 1},
	}
	for _, tt := range tests {
		h, err := SwapHeader(tt.size)
		if err != nil {
			t.Errorf("%s: SwapHeader(%d): %v", tt.name, tt.size, err)
			continue
		}
		if int64(len(h)) != page {
			t.Errorf("%s: header of %d bytes, want a page (%d)", tt.name, len(h), page)
			continue
		}
		if v := binary.LittleEndian.Uint32(h[1024:]); v != 1 {
			t.Errorf("%s: version = %d, want 1", tt.name, v)
		}
		if v := binary.LittleEndian.Uint32(h[1028:]); v != tt.lastPage {
			t.Errorf("%s: last_page = %d, want %d", tt.name, v, tt.lastPage)
		}
		if v := binary.LittleEndian.Uint32(h[1032:]); v != 0 {
			t.Errorf("%s: nr_badpages = %d, want 0", tt.name, v)
		}
		if got := string(h[page-10:]); got != "SWAPSPACE2" {
			t.Errorf("%s: last 10 bytes %q, want SWAPSPACE2", tt.name, got)
		}
		if got := string(bytes.TrimRight(h[1052:1068], "\x00")); got != "kvet" {
			t.Errorf("%s: volume name %q, want kvet", tt.name, got)
		}
		if !bytes.Equal(h[:1024], make([]byte, 1024)) {
			t.Errorf("%s: boot block not zero", tt.name)
		}
		// Between the volume name and the magic: padding and the bad
		// page list, empty.
		if !bytes.Equal(h[1068:page-10], make([]byte, page-10-1068)) {
			t.Errorf("%s: bytes between the volume name and the magic not zero", tt.name)
		}
	}
	for _, size := range []int64{-1, 0, page, 10*page - 1, (1<<32 + 1) * page} {
		if _, err := SwapHeader(size); err == nil {
			t.Errorf("SwapHeader(%d): no error", size)
		}
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestScratchDisk(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		dev      string
		size     int64
		errorHas string
	}{
		{"vda", map[string]string{
			"sys/block/vda/serial": "kvet-scratch\n", "sys/block/vda/size": "1048576\n",
			"sys/block/vdb/serial": "other-disk\n", "sys/block/vdb/size": "2048\n",
			"sys/block/sr0/size": "0\n", // no serial at all
		}, "/dev/vda", 512 << 20, ""},
		{"not the first disk", map[string]string{
			"sys/block/vda/serial": "root\n", "sys/block/vda/size": "4096\n",
			"sys/block/vdb/serial": "kvet-scratch", "sys/block/vdb/size": "32768",
		}, "/dev/vdb", 16 << 20, ""},
		{"no scratch disk", map[string]string{
			"sys/block/vda/serial": "other-disk\n", "sys/block/vda/size": "1048576\n",
		}, "", 0, "kvet-scratch"},
		{"no disks", map[string]string{"sys/block/.keep": ""}, "", 0, "kvet-scratch"},
		{"serial only starts alike", map[string]string{
			"sys/block/vda/serial": "kvet-scratch2\n", "sys/block/vda/size": "1048576\n",
		}, "", 0, "kvet-scratch"},
		{"bad size", map[string]string{
			"sys/block/vda/serial": "kvet-scratch\n", "sys/block/vda/size": "lots\n",
		}, "", 0, "size"},
		{"no size", map[string]string{"sys/block/vda/serial": "kvet-scratch\n"}, "", 0, "scratch disk"},
	}
	for _, tt := range tests {
		root := t.TempDir()
		writeFiles(t, root, tt.files)
		dev, size, err := scratchDisk(root)
		if tt.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errorHas) {
				t.Errorf("%s: scratchDisk = %q, %d, %v; want an error mentioning %q", tt.name, dev, size, err, tt.errorHas)
			}
			continue
		}
		if err != nil || dev != tt.dev || size != tt.size {
			t.Errorf("%s: scratchDisk = %q, %d, %v; want %q, %d", tt.name, dev, size, err, tt.dev, tt.size)
		}
	}
}

func TestCacheFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int64{0, 4096, 3<<20 + 123} {
		path, remove, err := CacheFile(dir, size)
		if err != nil {
			t.Fatalf("CacheFile(%d): %v", size, err)
		}
		if filepath.Dir(path) != dir {
			t.Errorf("CacheFile(%d) = %s, want a file in %s", size, path, dir)
		}
		b, err := os.ReadFile(path)
		if err != nil || int64(len(b)) != size {
			t.Errorf("CacheFile(%d): %d bytes, %v; want %d", size, len(b), err, size)
		}
		// Not all zeros: a file of zeros could be stored as holes and
		// read without touching the disk.
		if size > 0 && bytes.Count(b, []byte{0}) == len(b) {
			t.Errorf("CacheFile(%d): all zeros", size)
		}
		remove()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("CacheFile(%d): after remove, stat = %v, want not exist", size, err)
		}
	}
	if _, _, err := CacheFile(filepath.Join(dir, "missing"), 1<<20); err == nil {
		t.Errorf("CacheFile in a missing directory: no error")
	}
}
