package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvet/kvet/results"
	"github.com/kvet/kvet/runner"
)

// accelProbe is a remembered "auto" decision. A probe of broken KVM can take
// its whole timeout; its answer holds for as long as the host stays booted
// with the same QEMU, so it is kept per boot of the host.
type accelProbe struct {
	Key     string    `json:"key"`
	Accel   string    `json:"accel"`
	Warning string    `json:"warning,omitempty"`
	When    time.Time `json:"when"`
}

// probeKey names the conditions a probe's answer depends on: this boot of
// the host (a reboot or a new kernel module may fix KVM), QEMU's version and
// the KVM device itself.
func probeKey(qemuVersion string) string {
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	kvm := "absent"
	if fi, err := os.Stat("/dev/kvm"); err == nil {
		kvm = fmt.Sprint(fi.Mode(), fi.ModTime().UnixNano())
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(bootID)) + "\x00" + qemuVersion + "\x00" + kvm))
	return hex.EncodeToString(sum[:])
}

// chooseAccel is runner.ChooseAccel with "auto" answers remembered in the
// cache directory; "kvm" and "tcg" are never cached.
func chooseAccel(ctx context.Context, want, cache, qemuVersion string, probe runner.BootSpec) (accel, warning string, err error) {
	if want != "auto" {
		return runner.ChooseAccel(ctx, want, probe)
	}
	path := filepath.Join(cache, "accel-probe.json")
	key := probeKey(qemuVersion)
	var p accelProbe
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &p) == nil && p.Key == key && p.Accel != "" {
		w := p.Warning
		if w != "" {
			w += fmt.Sprintf(" (probed at %s on this boot of the host; delete %s to probe again)", p.When.Format(time.RFC3339), path)
		}
		return p.Accel, w, nil
	}
	accel, warning, err = runner.ChooseAccel(ctx, want, probe)
	if err != nil {
		return "", "", err
	}
	if b, err := json.Marshal(accelProbe{Key: key, Accel: accel, Warning: warning, When: time.Now().UTC()}); err == nil {
		_ = results.WriteFileAtomic(path, b) // a lost cache entry only costs a probe
	}
	return accel, warning, nil
}
