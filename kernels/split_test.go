package kernels

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/kernels/apt"
	"github.com/kvet/kvet/kernels/apt/apttest"
)

const (
	splitRelease = "7.3.4+deb13-test-amd64"
	splitVersion = "7.3.4-1~bpo13+1"
	ubuRelease   = "6.8.0-45-generic"
	ubuVersion   = "6.8.0-45.45"
)

// splitArchive publishes a kernel split as Debian does from 7.x on (a
// near-empty linux-image-REL depending on linux-binary-, linux-modules- and
// linux-base-REL, all under usr/lib/modules/REL), with a meta-package over
// it, and one split as Ubuntu does (linux-image-REL with boot/vmlinuz-REL,
// linux-modules-REL with the config in boot/ and the modules in
// lib/modules/REL, linux-modules-extra-REL depending on the image).
func splitArchive(t *testing.T) (*apttest.Archive, *Resolver) {
	t.Helper()
	a := apttest.New(t)
	d := "./usr/lib/modules/" + splitRelease + "/"
	u := "./lib/modules/" + ubuRelease + "/"
	deb := func(name, ver string, e ...tarEntry) []byte {
		return fakeDeb(t, name, ver, "data.tar.xz", append([]tarEntry{{name: "./", typ: tar.TypeDir}}, e...))
	}
	mod := func(name string, modinfo ...string) tarEntry {
		return tarEntry{name: name, body: string(compress(t, name, fakeModule(t, modinfo...)))}
	}
	a.Publish(t, "trixie-backports", []apttest.Pkg{
		{Name: "linux-image-test-amd64", Version: splitVersion, Depends: "linux-image-" + splitRelease + " (= " + splitVersion + ")",
			Deb: deb("linux-image-test-amd64", splitVersion, tarEntry{name: "./usr/share/doc/x", body: "meta"})},
		{Name: "linux-image-" + splitRelease, Version: splitVersion,
			Depends: "linux-binary-" + splitRelease + " (= " + splitVersion + "), linux-modules-" + splitRelease + " (= " + splitVersion + "), initramfs-tools | linux-initramfs-tool, linux-base (>= 4.12~)",
			Deb:     deb("linux-image-"+splitRelease, splitVersion, tarEntry{name: "./usr/share/doc/linux-image-" + splitRelease + "/copyright", body: "GPL"})},
		{Name: "linux-binary-" + splitRelease, Version: splitVersion, Depends: "linux-base-" + splitRelease + " (= " + splitVersion + ")",
			Deb: deb("linux-binary-"+splitRelease, splitVersion, tarEntry{name: d + "vmlinuz", body: string(fakeBzImage(splitRelease))})},
		{Name: "linux-modules-" + splitRelease, Version: splitVersion, Depends: "linux-base-" + splitRelease + " (= " + splitVersion + ")",
			Deb: deb("linux-modules-"+splitRelease, splitVersion,
				mod(d+"kernel/drivers/a/mod-a.ko.xz", "depends=mod_b"),
				mod(d+"kernel/drivers/b/mod_b.ko.zst", "depends=")),
		},
		{Name: "linux-base-" + splitRelease, Version: splitVersion,
			Deb: deb("linux-base-"+splitRelease, splitVersion,
				tarEntry{name: d + "config", body: "CONFIG_HZ=250\nCONFIG_PREEMPT_RT=y\n"},
				tarEntry{name: d + "System.map", body: "ffffffff81000000 T _text\n"},
				tarEntry{name: d + "modules.builtin", body: "kernel/drivers/e/mod_e.ko\n"},
				tarEntry{name: d + "modules.order", body: "kernel/drivers/a/mod-a.ko\n"})},
		// The generic linux-base of another version is not a member.
		{Name: "linux-base", Version: "4.12", Deb: deb("linux-base", "4.12", tarEntry{name: "./usr/sbin/linux-version", body: "#!/bin/sh"})},
		{Name: "linux-image-" + ubuRelease, Version: ubuVersion, Depends: "linux-base (>= 4.5ubuntu1~16.04.1), linux-modules-" + ubuRelease,
			Deb: deb("linux-image-"+ubuRelease, ubuVersion, tarEntry{name: "./boot/vmlinuz-" + ubuRelease, body: string(fakeBzImage(ubuRelease))})},
		{Name: "linux-modules-" + ubuRelease, Version: ubuVersion,
			Deb: deb("linux-modules-"+ubuRelease, ubuVersion,
				tarEntry{name: "./boot/config-" + ubuRelease, body: "CONFIG_HZ=1000\n"},
				mod(u+"kernel/drivers/virtio/virtio_pci.ko.zst", "depends="),
				tarEntry{name: u + "modules.builtin", body: "kernel/drivers/char/virtio_console.ko\n"})},
		{Name: "linux-modules-extra-" + ubuRelease, Version: ubuVersion, Depends: "linux-image-" + ubuRelease + " | linux-image-unsigned-" + ubuRelease,
			Deb: deb("linux-modules-extra-"+ubuRelease, ubuVersion, mod(u+"kernel/net/sched/sch_netem.ko.zst", "depends="))},
		{Name: "linux-image-broken-amd64", Version: "1", Depends: "linux-modules-broken-amd64 (= 1)",
			Deb: deb("linux-image-broken-amd64", "1", tarEntry{name: "./boot/vmlinuz-broken-amd64", body: string(fakeBzImage("broken-amd64"))})},
	})
	return a, &Resolver{CacheDir: t.TempDir(), SourcesDir: t.TempDir(), Archive: Archive{Mirror: a.URL, Suite: "trixie-backports", Keyring: a.KeyringPath}}
}

// moduleNames lists the module files under dir, relative to it.
func moduleNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), ".ko") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	must(t, err)
	sort.Strings(out)
	return out
}

func TestResolverSplitPackages(t *testing.T) {
	_, r := splitArchive(t)
	ctx := context.Background()
	tests := []struct {
		pkg, wantPkg, wantVer, wantRel string
		wantMembers, wantMods          []string
		wantHZ                         string
	}{
		{"linux-image-test-amd64", "linux-image-" + splitRelease, splitVersion, splitRelease,
			[]string{"linux-binary-" + splitRelease, "linux-modules-" + splitRelease, "linux-base-" + splitRelease},
			[]string{"kernel/drivers/a/mod-a.ko.xz", "kernel/drivers/b/mod_b.ko.zst"}, "250"},
		{"linux-image-" + ubuRelease, "linux-image-" + ubuRelease, ubuVersion, ubuRelease,
			[]string{"linux-modules-" + ubuRelease, "linux-modules-extra-" + ubuRelease},
			[]string{"kernel/drivers/virtio/virtio_pci.ko.zst", "kernel/net/sched/sch_netem.ko.zst"}, "1000"},
	}
	for _, tt := range tests {
		ks, err := r.Resolve(ctx, Spec{Name: "k", Package: tt.pkg})
		if err != nil {
			t.Fatalf("Resolve(%s) error = %v", tt.pkg, err)
		}
		k := ks[0]
		if k.Package != tt.wantPkg || k.Version != tt.wantVer || k.Release != tt.wantRel {
			t.Errorf("Resolve(%s) = %s %s (%s), want %s %s (%s)", tt.pkg, k.Package, k.Version, k.Release, tt.wantPkg, tt.wantVer, tt.wantRel)
		}
		if !reflect.DeepEqual(k.Members, tt.wantMembers) {
			t.Errorf("Resolve(%s) members = %q, want %q", tt.pkg, k.Members, tt.wantMembers)
		}
		if got := k.Config["CONFIG_HZ"]; got != tt.wantHZ {
			t.Errorf("Resolve(%s) CONFIG_HZ = %q, want %q", tt.pkg, got, tt.wantHZ)
		}
		if got := moduleNames(t, k.ModulesDir); !reflect.DeepEqual(got, tt.wantMods) {
			t.Errorf("Resolve(%s) modules = %q, want %q", tt.pkg, got, tt.wantMods)
		}
		mix, err := IndexModules(k.ModulesDir)
		if err != nil || mix.Len() != len(tt.wantMods) {
			t.Errorf("IndexModules(%s) = %v, want %d modules", tt.pkg, err, len(tt.wantMods))
		}
		// A second resolution reuses the extraction.
		again, err := r.Resolve(ctx, Spec{Name: "k", Package: tt.pkg})
		if err != nil || again[0].Vmlinuz != k.Vmlinuz {
			t.Errorf("Resolve(%s) again = %v, want the same extraction %s", tt.pkg, err, k.Vmlinuz)
		}
		// Pruning one of its packages removes the extraction.
		if _, err := r.Prune("linux-image-" + tt.wantRel); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(k.Vmlinuz); err == nil && len(tt.wantMembers) > 0 {
			t.Errorf("Prune(all but the image package) left %s", k.Vmlinuz)
		}
	}
}

func TestResolverSplitRefused(t *testing.T) {
	a, r := splitArchive(t)
	ctx := context.Background()
	if _, err := r.Resolve(ctx, Spec{Name: "b", Package: "linux-image-broken-amd64"}); err == nil || !strings.Contains(err.Error(), "depends on linux-modules-broken-amd64 (= 1), which the index lacks") {
		t.Errorf("Resolve(missing member) error = %v, want the missing package named", err)
	}
	// A member whose .deb is not the one the signed index lists is refused.
	fn := "pool/main/l/linux-modules-" + splitRelease + "_" + splitVersion + "_amd64.deb"
	orig := a.Get(fn)
	bad := append([]byte(nil), orig...)
	bad[len(bad)-1] ^= 0xff
	a.Set(fn, bad)
	_, err := r.Resolve(ctx, Spec{Name: "t", Package: "linux-image-test-amd64"})
	var me *apt.MismatchError
	if !errors.As(err, &me) {
		t.Errorf("Resolve(tampered member) error = %v, want a sha256 mismatch", err)
	}
	// One package of a split kernel alone is not a kernel, and says so.
	a.Set(fn, orig)
	pv, err := r.Lookup(ctx, Spec{Package: "linux-image-" + splitRelease})
	if err != nil {
		t.Fatal(err)
	}
	path, err := r.Fetch(ctx, pv[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromDeb(ctx, path, r.CacheDir); !errors.Is(err, ErrNotKernelPackage) || !strings.Contains(err.Error(), "named by its package") {
		t.Errorf("FromDeb(linux-image-%s alone) error = %v, want ErrNotKernelPackage with a hint", splitRelease, err)
	}
}

// TestResolverArchivePerKernel: one matrix takes kernels from several suites.
// suite: alone means the host's archive URIs with that suite; a host URI
// that does not serve it is passed over; an expired suite is refused with
// its date.
func TestResolverArchivePerKernel(t *testing.T) {
	a, _ := splitArchive(t)
	other := apttest.New(t) // another host source, without trixie-backports
	other.Publish(t, "stable", nil)
	a.Publish(t, "stable", []apttest.Pkg{{Name: "linux-image-6.12.1-test-amd64", Version: "6.12.1-1",
		Deb: fakeDeb(t, "linux-image-6.12.1-test-amd64", "6.12.1-1", "data.tar.xz", kernelDebEntries(t))}})
	a.ValidUntil = time.Date(2026, 11, 6, 8, 0, 0, 0, time.UTC)
	a.Publish(t, "sid", nil)
	// Both sources are signed by their own keys, named in the sources file.
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "sources.list.d", "host.sources"), []byte(
		"Types: deb\nURIs: "+other.URL+"\nSuites: stable\nComponents: main\nSigned-By: "+other.KeyringPath+"\n\n"+
			"Types: deb\nURIs: "+a.URL+"\nSuites: stable\nComponents: main\nSigned-By: "+a.KeyringPath+"\n"), 0o644))
	r := &Resolver{CacheDir: t.TempDir(), SourcesDir: dir}
	ctx := context.Background()
	stable, err := r.Resolve(ctx, Spec{Name: "stable", Package: "linux-image-6.12.1-test-amd64"})
	if err != nil || stable[0].Release != testRelease {
		t.Fatalf("Resolve(host sources) = %v, want %s", err, testRelease)
	}
	bpo, err := r.Resolve(ctx, Spec{Name: "bpo", Package: "linux-image-test-amd64", Archive: Archive{Suite: "trixie-backports"}})
	if err != nil || bpo[0].Release != splitRelease || bpo[0].Version != splitVersion {
		t.Fatalf("Resolve(suite: trixie-backports) = %v, want %s", err, splitRelease)
	}
	// The host's default suites do not hold the backport.
	if _, err := r.Resolve(ctx, Spec{Name: "x", Package: "linux-image-test-amd64"}); err == nil {
		t.Errorf("Resolve(host suites, trixie-backports' package) error = nil, want not found")
	}
	_, err = r.Resolve(ctx, Spec{Name: "sid", Package: "linux-image-test-amd64", Archive: Archive{Suite: "sid"}})
	if err == nil || !strings.Contains(err.Error(), "expired on Fri, 06 Nov 2026 08:00:00 UTC; refused") {
		t.Errorf("Resolve(expired suite) error = %v, want refused with the date", err)
	}
	_, err = r.Resolve(ctx, Spec{Name: "n", Package: "linux-image-test-amd64", Archive: Archive{Suite: "nosuch"}})
	if err == nil || !strings.Contains(err.Error(), "none of the host's archives serves it") {
		t.Errorf("Resolve(unknown suite) error = %v, want none serves it", err)
	}
	// A mirror of the kernel's own, over the Resolver's.
	m := &Resolver{CacheDir: t.TempDir(), SourcesDir: t.TempDir(), Archive: Archive{Mirror: other.URL, Suite: "stable", Keyring: other.KeyringPath}}
	got, err := m.Resolve(ctx, Spec{Name: "m", Package: "linux-image-test-amd64", Archive: Archive{Mirror: a.URL, Suite: "trixie-backports", Keyring: a.KeyringPath}})
	if err != nil || got[0].Release != splitRelease {
		t.Errorf("Resolve(kernel mirror) = %v, want %s", err, splitRelease)
	}
}
