package runner

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/wire"
)

// BaseCmdline is the kernel command line every boot starts with. panic=-1
// turns a panic into an immediate reset (QEMU exits thanks to -no-reboot);
// Debian kernels have CONFIG_PANIC_TIMEOUT=0 and would hang forever. quiet
// and loglevel=4 keep the console short while panics and oopses, logged at
// higher priority, still reach it.
const BaseCmdline = "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=4"

// BootSpec describes one boot. The zero value of every field but Kernel and
// Initrd works.
type BootSpec struct {
	QEMU        string        // QEMU binary; default qemu-system-x86_64
	Kernel      string        // vmlinuz path
	Initrd      string        // initramfs path
	Append      string        // extra kernel parameters, after BaseCmdline (later ones win)
	Accel       string        // "kvm" or "tcg"; default "tcg"
	CPUs        int           // default 2
	MemoryMB    int           // default 1024
	Timeout     time.Duration // whole boot, QEMU start to QEMU exit; default 10 minutes
	ConsolePath string        // where the serial console goes; default WorkDir/console.log
	Plan        wire.Plan     // sent to the guest in answer to its Hello
	WorkDir     string        // for the QMP and port sockets; default a temporary directory
	Logger      *slog.Logger  // default: discard
	// HostCPUs, when set, pins the guest: vCPU i runs on HostCPUs[i] only
	// and QEMU's other threads on the set (see CPUSets). Default: unpinned.
	HostCPUs []int
	// EmulatorCPUs, with HostCPUs, are where QEMU's other threads (main
	// loop, I/O) run; default HostCPUs. Spare CPUs keep them off the vCPUs'.
	EmulatorCPUs []int
	// Nice, when not 0, is given to every QEMU thread before the guest
	// starts (threads QEMU makes later inherit it); the boot records it as
	// read back (results.Boot.QEMUNice).
	Nice int
	// Expect is what the files and the guest must be; checked, and what
	// booted recorded, at every boot.
	Expect Expect
	// TraceDir and TraceFile say where the traces of a traced plan
	// (Plan.Trace) go: a scenario's trace is written to
	// TraceDir/TraceFile(scenario) and recorded in the boot under that
	// relative name. Without them a trace is recorded without its file.
	TraceDir  string
	TraceFile func(scenario string) string
	// ScratchDiskMB, when set, gives the guest a virtio-blk disk of that
	// size (serial ScratchSerial) for swap and page-cache scenarios: a
	// sparse file in the work directory, removed when the boot ends.
	// ScratchPath is where Boot put it.
	ScratchDiskMB int
	ScratchPath   string
}

// ScratchSerial is the serial number of the scratch disk, as the guest sees
// it in /sys/block/*/serial.
const ScratchSerial = wire.ScratchSerial

// MaxScratchDiskMB bounds a scratch disk (sparse: only what the guest
// writes takes space).
const MaxScratchDiskMB = 64 << 10

// Defaults of a boot, the matrix's too.
const (
	DefaultCPUs     = 2
	DefaultMemoryMB = 1024
	DefaultTimeout  = 10 * time.Minute
)

func (s BootSpec) withDefaults() BootSpec {
	if s.QEMU == "" {
		s.QEMU = "qemu-system-x86_64"
	}
	if s.Accel == "" {
		s.Accel = "tcg"
	}
	if s.CPUs <= 0 {
		s.CPUs = DefaultCPUs
	}
	if s.MemoryMB <= 0 {
		s.MemoryMB = DefaultMemoryMB
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// chardevPath escapes a path for QEMU's option syntax, where a comma
// separates options and ",," stands for a literal comma.
func chardevPath(p string) string { return strings.ReplaceAll(p, ",", ",,") }

// Args returns QEMU's command line (without the binary) for s, with QMP on
// the unix socket qmpSock and the results port connecting, as a client, to
// the host's listener at portSock. Defaults are applied to s first.
func Args(s BootSpec, qmpSock, portSock string) []string {
	s = s.withDefaults()
	args := []string{
		"-S", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		// q35 has PCI for virtio-serial and an ISA bus for pvpanic; microvm
		// would save ~0.2 s per boot but needs virtio-mmio in the kernel.
		"-machine", "q35",
	}
	switch s.Accel {
	case "kvm":
		// arch-capabilities (MSR 0x10a) is refused by nested KVM and by some
		// hosts; the guest does not need it.
		args = append(args, "-accel", "kvm", "-cpu", "host,-arch-capabilities")
	default:
		args = append(args, "-accel", "tcg", "-cpu", "max")
	}
	cmdline := BaseCmdline
	if a := strings.TrimSpace(s.Append); a != "" {
		cmdline += " " + a
	}
	args = append(args,
		"-smp", fmt.Sprint(s.CPUs),
		"-m", fmt.Sprint(s.MemoryMB),
		"-kernel", s.Kernel,
		"-initrd", s.Initrd,
		"-append", cmdline,
		"-chardev", "file,id=console,path="+chardevPath(s.ConsolePath),
		"-serial", "chardev:console",
		"-device", "pvpanic",
		"-qmp", "unix:"+chardevPath(qmpSock)+",server=on,wait=off",
		"-device", "virtio-serial-pci,id=vser0",
		// QEMU is the client of the host's listener: writes stream reliably,
		// and the connection exists before the guest runs.
		"-chardev", "socket,id=kvet0,path="+chardevPath(portSock),
		"-device", "virtserialport,bus=vser0.0,chardev=kvet0,name="+wire.PortName,
	)
	if s.ScratchDiskMB > 0 && s.ScratchPath != "" {
		// cache=unsafe: the disk is thrown away with the boot, never flushed.
		args = append(args,
			"-drive", "file="+chardevPath(s.ScratchPath)+",if=none,id=scratch,format=raw,cache=unsafe,discard=unmap",
			"-device", "virtio-blk-pci,drive=scratch,serial="+ScratchSerial)
	}
	return args
}
