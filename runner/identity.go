package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/kvet/kvet/results"
)

// Expect is what a boot must be booting: the hashes of the kernel image and
// initramfs the run resolved and built, and the release the kernel reports.
// An empty field is not checked; with all empty, nothing is recorded.
type Expect struct {
	Name         string // the kernel's name, for messages
	KernelSHA256 string
	InitrdSHA256 string
	Release      string
}

// checkFiles hashes the files QEMU is about to be given, records the hashes
// in res and checks them against what the run expects: a file changed since
// it was resolved or built is an infrastructure error naming both hashes.
func checkFiles(s BootSpec, res *results.Boot) error {
	if s.Expect == (Expect{}) {
		return nil // nothing expected (stand-in tests): nothing recorded
	}
	var err error
	if res.KernelSHA256, err = sha256File(s.Kernel); err != nil {
		return fmt.Errorf("kernel image: %w", err)
	}
	if res.InitrdSHA256, err = sha256File(s.Initrd); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	e := s.Expect
	if e.KernelSHA256 != "" && res.KernelSHA256 != e.KernelSHA256 {
		return fmt.Errorf("kernel image %s has sha256 %s, but kernel %s is %s: the file changed after it was resolved", s.Kernel, res.KernelSHA256, e.Name, e.KernelSHA256)
	}
	if e.InitrdSHA256 != "" && res.InitrdSHA256 != e.InitrdSHA256 {
		return fmt.Errorf("initramfs %s has sha256 %s, but it was built as %s: the file changed after it was built", s.Initrd, res.InitrdSHA256, e.InitrdSHA256)
	}
	return nil
}

// checkRelease turns a boot whose guest reported another release than the
// kernel's into an infrastructure error naming both.
func checkRelease(e Expect, res *results.Boot) {
	if e.Release == "" || res.Release == "" || res.Release == e.Release {
		return
	}
	res.Outcome = results.InfraError
	res.Reason = fmt.Sprintf("the guest runs %s, but kernel %s is %s: another kernel booted", res.Release, e.Name, e.Release)
}

func sha256File(path string) (string, error) {
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
