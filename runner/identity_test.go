package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kvet/kvet/results"
)

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	kernel, initrd := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd")
	os.WriteFile(kernel, []byte("kernel A"), 0o644)
	os.WriteFile(initrd, []byte("initrd A"), 0o644)
	ks, _ := sha256File(kernel)
	is, _ := sha256File(initrd)
	tests := []struct {
		name   string
		expect Expect
		want   string
	}{
		{"as resolved", Expect{Name: "a", KernelSHA256: ks, InitrdSHA256: is}, ""},
		{"kernel swapped", Expect{Name: "a", KernelSHA256: strings.Repeat("0", 64), InitrdSHA256: is}, "kernel image " + kernel + " has sha256 " + ks + ", but kernel a is 0000"},
		{"initrd swapped", Expect{Name: "a", KernelSHA256: ks, InitrdSHA256: strings.Repeat("1", 64)}, "initramfs " + initrd + " has sha256 " + is + ", but it was built as 1111"},
	}
	for _, tt := range tests {
		res := &results.Boot{}
		err := checkFiles(BootSpec{Kernel: kernel, Initrd: initrd, Expect: tt.expect}, res)
		if got := errString(err); tt.want == "" && err != nil || !strings.Contains(got, tt.want) {
			t.Errorf("checkFiles(%s) = %v, want %q", tt.name, err, tt.want)
		}
		if res.KernelSHA256 != ks || res.InitrdSHA256 != is {
			t.Errorf("checkFiles(%s) recorded %s %s, want %s %s", tt.name, res.KernelSHA256, res.InitrdSHA256, ks, is)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCheckRelease(t *testing.T) {
	res := &results.Boot{Outcome: results.OK, Release: "6.1.0-57-cloud-amd64"}
	checkRelease(Expect{Name: "new", Release: "6.12.118+deb12-cloud-amd64"}, res)
	want := "the guest runs 6.1.0-57-cloud-amd64, but kernel new is 6.12.118+deb12-cloud-amd64"
	if res.Outcome != results.InfraError || !strings.Contains(res.Reason, want) {
		t.Errorf("checkRelease(mismatch) = %s %q, want infra-error %q", res.Outcome, res.Reason, want)
	}
	res = &results.Boot{Outcome: results.OK, Release: "6.1.0-57-cloud-amd64"}
	if checkRelease(Expect{Release: "6.1.0-57-cloud-amd64"}, res); res.Outcome != results.OK {
		t.Errorf("checkRelease(match) = %s %q, want ok", res.Outcome, res.Reason)
	}
}

// TestBootRecordsWhatBooted boots the real kernel twice: as expected, it
// records the hashes of what QEMU was given; told to expect another
// release (another kernel's image under this one's name), it is an
// infrastructure error naming both releases.
func TestBootRecordsWhatBooted(t *testing.T) {
	k, builder := testKernel(t)
	initrd := buildImage(t, builder, k, filepath.Join(fixtureDir, "tinyinit"))
	defer noQEMULeft(t)
	is, _ := sha256File(initrd)
	for _, tt := range []struct {
		name    string
		release string
		want    results.Outcome
	}{
		{"as expected", k.Release, results.OK},
		{"another release", "6.1.0-57-cloud-amd64", results.InfraError},
	} {
		dir := t.TempDir()
		b := Boot(context.Background(), BootSpec{
			Kernel: k.Vmlinuz, Initrd: initrd, Accel: "tcg", CPUs: 1, MemoryMB: 512, WorkDir: dir,
			Plan: wirePlan(), Logger: testLogger(t),
			Expect: Expect{Name: "k", KernelSHA256: k.SHA256, InitrdSHA256: is, Release: tt.release},
		})
		if b.Outcome != tt.want || b.KernelSHA256 != k.SHA256 || b.InitrdSHA256 != is {
			t.Errorf("Boot(%s) = %s %q, recorded %s %s; want %s recording %s %s", tt.name, b.Outcome, b.Reason, b.KernelSHA256, b.InitrdSHA256, tt.want, k.SHA256, is)
		}
		if tt.want == results.InfraError && !strings.Contains(b.Reason, "the guest runs "+k.Release+", but kernel k is "+tt.release) {
			t.Errorf("Boot(%s).Reason = %q, want both releases named", tt.name, b.Reason)
		}
	}
}
