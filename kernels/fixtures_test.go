package kernels

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/kvet/kvet/internal/elftest"
)

// fakeBzImage builds the first bytes of an x86 bzImage whose setup header
// names release.
func fakeBzImage(release string) []byte {
	b := make([]byte, 0x800)
	binary.LittleEndian.PutUint16(b[0x1FE:], 0xAA55)
	copy(b[hdrMagicOff:], "HdrS")
	binary.LittleEndian.PutUint16(b[hdrVersionOff:], 0x020F)
	const at = 0x400
	binary.LittleEndian.PutUint16(b[hdrKVerOff:], at-0x200)
	copy(b[at:], release+" (builder@example) #1 SMP PREEMPT_DYNAMIC Debian 6.12.1-1\x00")
	return b
}

// fakeModule builds a relocatable ELF64 object whose .modinfo section holds
// the given key=value strings, as modpost writes them.
func fakeModule(t testing.TB, modinfo ...string) []byte {
	t.Helper()
	return elftest.Module(modinfo...)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// compress compresses data as a file name's suffix says.
func compress(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch filepath.Ext(name) {
	case ".xz":
		w, err := xz.NewWriter(&b)
		must(t, err)
		_, err = w.Write(data)
		must(t, err)
		must(t, w.Close())
	case ".zst":
		w, err := zstd.NewWriter(&b)
		must(t, err)
		_, err = w.Write(data)
		must(t, err)
		must(t, w.Close())
	case ".gz":
		w := gzip.NewWriter(&b)
		_, err := w.Write(data)
		must(t, err)
		must(t, w.Close())
	default:
		return data
	}
	return b.Bytes()
}

type tarEntry struct {
	name string
	body string
	typ  byte // tar.TypeReg when 0
	link string
}

func makeTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		} else {
			h.Size = 0
		}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			_, err := tw.Write([]byte(e.body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return b.Bytes()
}

type arFile struct {
	name string
	data []byte
}

func makeAr(files []arFile) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, f := range files {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", f.name, 0, 0, 0, "100644", len(f.data))
		b.Write(f.data)
		if len(f.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// fakeDeb builds a .deb with the given data.tar entries; dataName picks the
// compression of both tar members.
func fakeDeb(t testing.TB, pkg, version, dataName string, data []tarEntry) []byte {
	t.Helper()
	control := makeTar(t, []tarEntry{
		{name: "./", typ: tar.TypeDir},
		{name: "./control", body: "Package: " + pkg + "\nSource: linux-signed-amd64\nVersion: " + version +
			"\nArchitecture: amd64\nDescription: Linux for testing\n A continuation line.\n"},
		{name: "./md5sums", body: "0 boot/vmlinuz\n"},
	})
	controlName := "control.tar" + strings.TrimPrefix(dataName, "data.tar")
	return makeAr([]arFile{
		{"debian-binary", []byte("2.0\n")},
		{controlName, compress(t, controlName, control)},
		{dataName, compress(t, dataName, makeTar(t, data))},
	})
}

const testRelease = "6.12.1+deb13-test-amd64"

// kernelDebEntries is the data.tar of a small kernel package: an image, its
// config, and modules a..d with a -> b, c; b -> d; c -> d, and a built-in e.
func kernelDebEntries(t testing.TB) []tarEntry {
	m := "./lib/modules/" + testRelease + "/"
	return []tarEntry{
		{name: "./", typ: tar.TypeDir},
		{name: "./boot/", typ: tar.TypeDir},
		{name: "./boot/vmlinuz-" + testRelease, body: string(fakeBzImage(testRelease))},
		{name: "./boot/config-" + testRelease, body: "CONFIG_HZ=1000\nCONFIG_PREEMPT=y\nCONFIG_PREEMPT_DYNAMIC=y\n"},
		{name: "./boot/System.map-" + testRelease, body: "ffffffff81000000 T _text\n"},
		{name: m, typ: tar.TypeDir},
		{name: m + "kernel/drivers/a/mod-a.ko.xz", body: string(compress(t, ".xz", fakeModule(t, "license=GPL", "depends=mod_b,mod-c", "name=mod_a")))},
		{name: m + "kernel/drivers/b/mod_b.ko.zst", body: string(compress(t, ".zst", fakeModule(t, "depends=mod_d")))},
		{name: m + "kernel/drivers/c/mod_c.ko.gz", body: string(compress(t, ".gz", fakeModule(t, "depends=mod_d,mod_e")))},
		{name: m + "kernel/drivers/d/mod_d.ko", body: string(fakeModule(t, "depends="))},
		{name: m + "modules.builtin", body: "kernel/drivers/e/mod_e.ko\n"},
		{name: m + "modules.order", body: "kernel/drivers/a/mod-a.ko\n"},
		{name: m + "build", typ: tar.TypeSymlink, link: "/usr/src/linux-headers"},
		{name: "./usr/share/doc/linux-image/changelog.gz", body: "x"},
	}
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, data, 0o644))
	return p
}
