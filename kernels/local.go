package kernels

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrNotKernelImage is returned (wrapped) for a file without an x86 bzImage
// header.
var ErrNotKernelImage = errors.New("not a Linux kernel image (no bzImage header)")

// Offsets in the x86 boot protocol's setup header
// (Documentation/arch/x86/boot.rst).
const (
	hdrMagicOff   = 0x202 // "HdrS"
	hdrVersionOff = 0x206 // boot protocol version
	hdrKVerOff    = 0x20E // pointer to the version string, minus 0x200
	kverMax       = 256
)

// ImageRelease reads the kernel release (as uname -r prints it) from the
// kernel_version string of an x86 bzImage's setup header.
func ImageRelease(r io.ReaderAt) (string, error) {
	var hdr [0x210]byte
	if n, err := r.ReadAt(hdr[:], 0); n < len(hdr) {
		if err == nil || err == io.EOF {
			return "", ErrNotKernelImage
		}
		return "", err
	}
	if string(hdr[hdrMagicOff:hdrMagicOff+4]) != "HdrS" {
		return "", ErrNotKernelImage
	}
	// kernel_version exists since boot protocol 2.00.
	if binary.LittleEndian.Uint16(hdr[hdrVersionOff:]) < 0x200 {
		return "", fmt.Errorf("%w: boot protocol too old", ErrNotKernelImage)
	}
	ptr := binary.LittleEndian.Uint16(hdr[hdrKVerOff:])
	if ptr == 0 {
		return "", fmt.Errorf("%w: no kernel_version string", ErrNotKernelImage)
	}
	buf := make([]byte, kverMax)
	n, err := r.ReadAt(buf, int64(ptr)+0x200)
	if n == 0 {
		if err == nil || err == io.EOF {
			return "", fmt.Errorf("%w: kernel_version points past the end", ErrNotKernelImage)
		}
		return "", err
	}
	buf = buf[:n]
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	// "6.12.117+deb12-cloud-amd64 (debian-kernel@...) #1 SMP ..."
	rel, _, _ := bytes.Cut(buf, []byte(" "))
	if len(rel) == 0 || !printable(rel) {
		return "", fmt.Errorf("%w: bad kernel_version string", ErrNotKernelImage)
	}
	return string(rel), nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// FromFiles describes a locally built kernel: a bzImage, optionally its
// lib/modules/RELEASE directory and its .config ("" for none).
func FromFiles(vmlinuz, modulesDir, configPath string) (*Kernel, error) {
	f, err := os.Open(vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("kernel image: %w", err)
	}
	defer f.Close()
	rel, err := ImageRelease(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vmlinuz, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return nil, fmt.Errorf("%s: %w", vmlinuz, err)
	}
	abs, err := filepath.Abs(vmlinuz)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vmlinuz, err)
	}
	k := &Kernel{
		Source:  vmlinuz,
		Release: rel,
		Vmlinuz: abs,
		SHA256:  hex.EncodeToString(h.Sum(nil)),
	}
	if modulesDir != "" {
		fi, err := os.Stat(modulesDir)
		if err != nil {
			return nil, fmt.Errorf("modules dir: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("modules dir %s: not a directory", modulesDir)
		}
		if k.ModulesDir, err = filepath.Abs(modulesDir); err != nil {
			return nil, fmt.Errorf("modules dir %s: %w", modulesDir, err)
		}
	}
	if configPath != "" {
		if k.Config, err = readConfig(configPath); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func readConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernel config: %w", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
