package kernels

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageRelease(t *testing.T) {
	good := fakeBzImage("6.12.117+deb12-cloud-amd64")
	set := func(off int, v uint16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[off:], v)
		return b
	}
	tests := []struct {
		name    string
		image   []byte
		want    string
		wantErr string
	}{
		{"debian", good, "6.12.117+deb12-cloud-amd64", ""},
		{"no version text after release", func() []byte {
			b := bytes.Clone(good)
			copy(b[0x400:], "6.1.0-54-cloud-amd64\x00")
			return b
		}(), "6.1.0-54-cloud-amd64", ""},
		{"empty", nil, "", "no bzImage header"},
		{"short", good[:0x100], "", "no bzImage header"},
		{"garbage", bytes.Repeat([]byte("garbage!"), 256), "", "no bzImage header"},
		{"elf vmlinux", append([]byte("\x7fELF"), make([]byte, 0x400)...), "", "no bzImage header"},
		{"old protocol", set(hdrVersionOff, 0x0105), "", "boot protocol too old"},
		{"no version pointer", set(hdrKVerOff, 0), "", "no kernel_version"},
		{"pointer past the end", set(hdrKVerOff, 0x7000), "", "past the end"},
		{"pointer at zeros", set(hdrKVerOff, 0x500), "", "bad kernel_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ImageRelease(bytes.NewReader(tt.image))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNotKernelImage) {
					t.Fatalf("ImageRelease() = %q, %v, want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ImageRelease() = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestFromFiles(t *testing.T) {
	dir := t.TempDir()
	image := fakeBzImage(testRelease)
	vmlinuz := filepath.Join(dir, "bzImage")
	must(t, os.WriteFile(vmlinuz, image, 0o644))
	config := filepath.Join(dir, ".config")
	must(t, os.WriteFile(config, []byte("CONFIG_HZ=300\nCONFIG_PREEMPT_RT=y\n"), 0o644))
	mods := filepath.Join(dir, "lib/modules", testRelease)
	must(t, os.MkdirAll(mods, 0o755))
	garbage := filepath.Join(dir, "garbage")
	must(t, os.WriteFile(garbage, []byte("not a kernel"), 0o644))
	sum := sha256.Sum256(image)

	k, err := FromFiles(vmlinuz, mods, config)
	if err != nil {
		t.Fatalf("FromFiles() error = %v", err)
	}
	want := Kernel{Source: vmlinuz, Release: testRelease, Vmlinuz: vmlinuz, ModulesDir: mods, SHA256: hex.EncodeToString(sum[:])}
	got := *k
	got.Config = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromFiles() = %+v, want %+v", got, want)
	}
	if k.HZ() != 300 || k.Preemption() != "rt" {
		t.Errorf("FromFiles() config gives HZ %d, preemption %q; want 300, rt", k.HZ(), k.Preemption())
	}

	k, err = FromFiles(vmlinuz, "", "")
	if err != nil || k.ModulesDir != "" || k.Config != nil {
		t.Errorf("FromFiles(image only) = %+v, %v; want no modules or config", k, err)
	}

	errTests := []struct {
		name                  string
		vmlinuz, mods, config string
		wantErr               string
	}{
		{"garbage", garbage, "", "", garbage + ": not a Linux kernel image (no bzImage header)"},
		{"missing image", filepath.Join(dir, "nope"), "", "", "no such file"},
		{"modules not a dir", vmlinuz, config, "", "not a directory"},
		{"missing modules", vmlinuz, filepath.Join(dir, "nope"), "", "no such file"},
		{"bad config", vmlinuz, "", garbage, garbage + ": config line 1"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromFiles(tt.vmlinuz, tt.mods, tt.config)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FromFiles(%q, %q, %q) error = %v, want one containing %q", tt.vmlinuz, tt.mods, tt.config, err, tt.wantErr)
			}
		})
	}
}

func FuzzImageRelease(f *testing.F) {
	f.Add(fakeBzImage("6.1.0-1-amd64"))
	f.Add([]byte("HdrS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rel, err := ImageRelease(bytes.NewReader(b))
		if err == nil && (rel == "" || strings.ContainsAny(rel, " \x00")) {
			t.Errorf("ImageRelease() = %q", rel)
		}
	})
}
