// Package runner boots kernels in QEMU and tells who is at fault when a boot
// fails. It owns the QEMU command line (a pure function), the process and its
// QMP control, the choice of accelerator (a KVM probe, TCG as the fallback),
// the boot plan and its shards, the pool of guests and their host CPUs, the
// timeouts, and the classification of each boot's outcome from the guest's
// frames and the console. It boots what it is given: kernels, images and the
// matrix are resolved before it is called.
package runner
