package runner

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// ProbeTimeout bounds the boot that proves KVM works.
const ProbeTimeout = 30 * time.Second

// kvmDevice is opened to see whether KVM is there at all.
const kvmDevice = "/dev/kvm"

// ChooseAccel picks the accelerator for a run. want is "tcg", "kvm" or
// "auto". KVM must be proven by a short probe boot of the probe spec (with
// an empty plan) because nested or misconfigured KVM can be present and
// still stop with an internal error or hang. "kvm" fails with the reason
// when the probe does not reach done; "auto" falls back to TCG and says why
// in warning.
func ChooseAccel(ctx context.Context, want string, probe BootSpec) (accel, warning string, err error) {
	switch want {
	case "tcg":
		return "tcg", "", nil
	case "kvm", "auto", "":
	default:
		return "", "", fmt.Errorf("accel %q: want kvm, tcg or auto", want)
	}
	why := probeKVM(ctx, probe)
	if ctx.Err() != nil {
		return "", "", fmt.Errorf("kvm probe: %w", ctx.Err())
	}
	if why == "" {
		return "kvm", "", nil
	}
	if want == "kvm" {
		return "", "", fmt.Errorf("%s; use --accel tcg to run without it", why)
	}
	return "tcg", why + "; falling back to TCG (timings are not comparable with KVM runs)", nil
}

// probeKVM returns "" when KVM works, else why not.
func probeKVM(ctx context.Context, probe BootSpec) string {
	f, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	if err != nil {
		return fmt.Sprintf("KVM unavailable: %v", err)
	}
	f.Close()
	probe.Accel = "kvm"
	probe.Plan = wire.Plan{Profile: "quick"}
	if probe.Timeout <= 0 || probe.Timeout > ProbeTimeout {
		probe.Timeout = ProbeTimeout
	}
	b := Boot(ctx, probe)
	if b.Outcome == results.OK {
		return ""
	}
	msg := fmt.Sprintf("KVM is present but broken: the probe boot ended %s (%s)", b.Outcome, b.Reason)
	if t := strings.TrimSpace(tail(b.ConsoleTail, 5)); t != "" {
		msg += "; console:\n" + t + "\n"
	}
	return msg
}
