package memsys

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/internal/wire"
)

// Swap types.
const (
	SwapZram = "zram" // compressed, in the guest's own memory
	SwapDisk = "disk" // the boot's scratch disk (on bare metal: a swap file)
	SwapNone = "none"
)

// swapMagic ends the first page of a swap area (struct swap_header of
// include/linux/swap.h, version 1).
const swapMagic = "SWAPSPACE2"

// SwapHeader is the first page of a swap area of size bytes, as mkswap
// writes it: version 1, last usable page, no bad pages, the magic at the
// page's end.
func SwapHeader(size int64) ([]byte, error) {
	page := os.Getpagesize()
	pages := size / int64(page)
	if pages < 10 {
		return nil, fmt.Errorf("swap: %d bytes is too small for a swap area", size)
	}
	if pages-1 > 1<<32-1 {
		return nil, fmt.Errorf("swap: %d bytes is too large", size)
	}
	h := make([]byte, page)
	binary.LittleEndian.PutUint32(h[1024:], 1)                               // version
	binary.LittleEndian.PutUint32(h[1028:], uint32(pages-1))                 // last_page
	binary.LittleEndian.PutUint32(h[1032:], 0)                               // nr_badpages
	copy(h[1036:1052], []byte(strconv.FormatInt(time.Now().UnixNano(), 16))) // uuid: unique enough
	copy(h[1052:1068], "kvet")                                               // label
	copy(h[page-len(swapMagic):], swapMagic)
	return h, nil
}

// Swap is an active swap area.
type Swap struct {
	Type string
	Path string
	Size int64
	undo []func() error
}

// Off turns the area off and undoes its set-up (zram reset, file removed).
func (s *Swap) Off() error {
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		errs = append(errs, s.undo[i]())
	}
	s.undo = nil
	return errors.Join(errs...)
}

// SwapOn makes a swap area of the type asked for, of size bytes, and turns
// it on: zram on a zram device (the module loaded or built in), disk on
// the boot's scratch disk (ScratchDisk), or, without one (bare metal), on a
// file in dir.
func SwapOn(typ string, size int64, dir string) (*Swap, error) {
	s := &Swap{Type: typ, Size: size}
	var err error
	switch typ {
	case SwapZram:
		err = s.zram()
	case SwapDisk:
		if d, dsize, derr := ScratchDisk(); derr == nil {
			if size > dsize {
				return nil, fmt.Errorf("swap: %d MiB asked for, the scratch disk %s has %d MiB", size>>20, d, dsize>>20)
			}
			s.Path = d
		} else {
			err = s.file(dir)
		}
	default:
		return nil, fmt.Errorf("swap: type %q (want zram or disk)", typ)
	}
	if err != nil {
		s.Off()
		return nil, err
	}
	if err := writeHeader(s.Path, size); err != nil {
		s.Off()
		return nil, err
	}
	if err := swapon(s.Path); err != nil {
		s.Off()
		return nil, err
	}
	s.undo = append(s.undo, func() error { return swapoff(s.Path) })
	return s, nil
}

// zram finds a zram device (adding one through zram-control when the
// first is in use) and sizes it.
func (s *Swap) zram() error {
	dev := "zram0"
	if b, err := os.ReadFile("/sys/block/zram0/disksize"); err != nil {
		return fmt.Errorf("swap: zram: %w (CONFIG_ZRAM, or the zram module not loaded)", err)
	} else if strings.TrimSpace(string(b)) != "0" {
		id, err := os.ReadFile("/sys/class/zram-control/hot_add")
		if err != nil {
			return fmt.Errorf("swap: zram0 is in use and no other can be added: %w", err)
		}
		dev = "zram" + strings.TrimSpace(string(id))
		s.undo = append(s.undo, func() error {
			return os.WriteFile("/sys/class/zram-control/hot_remove", []byte(strings.TrimPrefix(dev, "zram")), 0)
		})
	}
	sys := filepath.Join("/sys/block", dev)
	if err := os.WriteFile(filepath.Join(sys, "disksize"), []byte(strconv.FormatInt(s.Size, 10)), 0); err != nil {
		return fmt.Errorf("swap: %s disksize: %w", dev, err)
	}
	s.undo = append(s.undo, func() error { return os.WriteFile(filepath.Join(sys, "reset"), []byte("1"), 0) })
	s.Path = "/dev/" + dev
	return nil
}

// file makes a swap file of Size bytes in dir, every block written (swapon
// refuses files with holes).
func (s *Swap) file(dir string) error {
	f, err := os.CreateTemp(dir, "kvet-swap-*")
	if err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	s.Path = f.Name()
	s.undo = append(s.undo, func() error { return os.Remove(s.Path) })
	f.Chmod(0o600)
	zero := make([]byte, 1<<20)
	for n := int64(0); n < s.Size; n += int64(len(zero)) {
		if _, err := f.Write(zero[:min(int64(len(zero)), s.Size-n)]); err != nil {
			f.Close()
			return fmt.Errorf("swap: %s: %w", s.Path, err)
		}
	}
	return f.Close()
}

func writeHeader(path string, size int64) error {
	h, err := SwapHeader(size)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	if _, err := f.WriteAt(h, 0); err != nil {
		f.Close()
		return fmt.Errorf("swap: header on %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("swap: %s: %w", path, err)
	}
	return f.Close()
}

func swapon(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return fmt.Errorf("swapon %s: %w", path, e)
	}
	return nil
}

func swapoff(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return fmt.Errorf("swapoff %s: %w", path, e)
	}
	return nil
}

// ScratchDisk finds the boot's scratch disk (the block device whose serial
// is wire.ScratchSerial) and its size in bytes.
func ScratchDisk() (string, int64, error) {
	return scratchDisk("/")
}

func scratchDisk(root string) (string, int64, error) {
	blocks, _ := filepath.Glob(filepath.Join(root, "sys/block/*/serial"))
	for _, f := range blocks {
		b, err := os.ReadFile(f)
		if err != nil || strings.TrimSpace(string(b)) != wire.ScratchSerial {
			continue
		}
		dir := filepath.Dir(f)
		sz, err := os.ReadFile(filepath.Join(dir, "size"))
		if err != nil {
			return "", 0, fmt.Errorf("scratch disk: %w", err)
		}
		sectors, err := strconv.ParseInt(strings.TrimSpace(string(sz)), 10, 64)
		if err != nil {
			return "", 0, fmt.Errorf("scratch disk: size %q", sz)
		}
		return "/dev/" + filepath.Base(dir), sectors * 512, nil
	}
	return "", 0, errors.New("no scratch disk (a virtio-blk disk with serial " + wire.ScratchSerial + ")")
}

// CacheFile writes a file of size bytes in dir (TMPDIR when "") to read
// through the page cache; remove removes it.
func CacheFile(dir string, size int64) (path string, remove func(), err error) {
	f, err := os.CreateTemp(dir, "kvet-cache-*")
	if err != nil {
		return "", nil, fmt.Errorf("cache file: %w", err)
	}
	remove = func() { os.Remove(f.Name()) }
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := f.Write(buf[:min(int64(len(buf)), size-n)]); err != nil {
			f.Close()
			remove()
			return "", nil, fmt.Errorf("cache file: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, fmt.Errorf("cache file: %w", err)
	}
	return f.Name(), remove, nil
}
