// Command tinyinit is a minimal /init for testing the runner without the
// real agent. Its behaviour is chosen on the kernel command line with
// kvet.tiny=MODE: "ok" (default) says hello, reads the plan and sends done;
// "hang" sleeps forever; "nodone" says hello and powers off; "corrupt" writes
// garbage; "error" sends an error frame before done;
// "sysrq" crashes the kernel through /proc/sysrq-trigger.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/kmodule"
	"golang.org/x/sys/unix"

	"github.com/kvet/kvet/internal/wire"
)

func main() {
	unix.Mount("proc", "/proc", "proc", 0, "")
	unix.Mount("sysfs", "/sys", "sysfs", 0, "")
	unix.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	// The image lists the modules to load, as for the real agent (6.1
	// kernels have virtio_pci and virtio_console as modules).
	if b, err := os.ReadFile(wire.ModulesFile); err == nil {
		for _, m := range strings.Fields(string(b)) {
			if err := kmodule.Probe(m, ""); err != nil {
				fmt.Fprintln(os.Stderr, "tinyinit: load", m+":", err)
			}
		}
	}
	mode := "ok"
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(f, "kvet.tiny="); ok {
				mode = v
			}
		}
	}
	if mode == "sysrq" {
		// A panic after pvpanic_mmio is loaded: QEMU reports GUEST_PANICKED.
		os.WriteFile("/proc/sys/kernel/sysrq", []byte("1"), 0)
		os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0)
	}
	if mode == "hang" {
		for {
			time.Sleep(time.Hour)
		}
	}
	if err := run(mode); err != nil {
		fmt.Fprintln(os.Stderr, "tinyinit:", err)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}

func port() (string, error) {
	for i := 0; i < 500; i++ {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err == nil && strings.TrimSpace(string(b)) == wire.PortName {
				return "/dev/" + filepath.Base(filepath.Dir(n)), nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "", fmt.Errorf("port %s not found", wire.PortName)
}

func run(mode string) error {
	p, err := port()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if mode == "corrupt" {
		_, err := f.Write([]byte("this is not a frame at all"))
		return err
	}
	var u unix.Utsname
	unix.Uname(&u)
	if err := wire.WriteJSON(f, wire.TypeHello, wire.Hello{Version: "tiny", Release: unix.ByteSliceToString(u.Release[:]), CPUs: 1}); err != nil {
		return err
	}
	fr, err := wire.NewReader(f).Next()
	if err != nil {
		return err
	}
	if fr.Type != wire.TypePlan {
		return fmt.Errorf("got %s, want plan", fr.Type)
	}
	if mode == "nodone" {
		return nil
	}
	if err := wire.WriteJSON(f, wire.TypeFacts, map[string]string{"plan": string(fr.Payload)}); err != nil {
		return err
	}
	if err := wire.Write(f, wire.Frame{Type: wire.TypeLog, Payload: []byte("tiny says hi")}); err != nil {
		return err
	}
	if mode == "error" {
		if err := wire.Write(f, wire.Frame{Type: wire.TypeError, Payload: []byte("tiny failed on purpose")}); err != nil {
			return err
		}
	}
	return wire.Write(f, wire.Frame{Type: wire.TypeDone})
}
