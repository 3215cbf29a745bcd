package main

import (
	"testing"

	"github.com/kvet/kvet/internal/matrix"
)

func TestKernelArgs(t *testing.T) {
	m, err := matrix.FromKernelFiles([]string{"linux-image-cloud-amd64", "linux-image-cloud-amd64/trixie-backports", "linux-image-rt-amd64/trixie-backports"})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, pkg, suite string }{
		{"cloud-amd64", "linux-image-cloud-amd64", ""},
		{"cloud-amd64-trixie-backports", "linux-image-cloud-amd64", "trixie-backports"},
		{"rt-amd64-trixie-backports", "linux-image-rt-amd64", "trixie-backports"},
	}
	for i, w := range want {
		k := m.Kernels[i]
		if k.Name != w.name || k.Package != w.pkg || k.Suite != w.suite {
			t.Errorf("kernel %d = %s %s/%s, want %s %s/%s", i, k.Name, k.Package, k.Suite, w.name, w.pkg, w.suite)
		}
	}
	if s := specFromArg("linux-image-rt-amd64/trixie-backports"); s.Package != "linux-image-rt-amd64" || s.Suite != "trixie-backports" {
		t.Errorf("specFromArg(PACKAGE/SUITE) = %+v", s)
	}
	if s := specFromArg("./x/linux-image-1_1_amd64.deb"); s.Deb == "" || s.Package != "" {
		t.Errorf("specFromArg(.deb) = %+v", s)
	}
	if _, _, ok := matrix.PackageArg("kernels/vmlinuz"); ok {
		t.Errorf("matrix.PackageArg(a path) = ok, want not a package")
	}
}
