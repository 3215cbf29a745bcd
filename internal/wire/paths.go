package wire

// Names and paths the host and the guest agree on besides the frames: the
// image builder puts files there, the runner names the port, the agent
// reads them.
const (
	// PortName is the virtio-serial port's name (QEMU virtserialport name=).
	PortName = "org.kvet.0"
	// ModulesFile lists the modules the guest loads, one name per line, in
	// load order.
	ModulesFile = "/etc/kvet/modules"
	// InitPath is where the image puts the kvet binary.
	InitPath = "/init"
	// ExecDir is where the image puts the exec scenario's program (and a
	// dynamically linked program's loader and libraries).
	ExecDir = "/kvet/exec"
)

// ScratchSerial is the serial number of a boot's scratch disk (the host's
// runner.BootSpec.ScratchDiskMB), as the guest sees it in
// /sys/block/*/serial.
const ScratchSerial = "kvet-scratch"
