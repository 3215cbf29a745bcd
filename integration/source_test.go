package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/results"
)

// sourceTarball returns Debian's linux-source tarball (make
// deps-kernel-build installs it), skipping the test without it, or failing
// when the integration tests are required.
func sourceTarball(t *testing.T) string {
	t.Helper()
	found, _ := filepath.Glob("/usr/src/linux-source-*.tar.xz")
	if len(found) == 0 {
		if os.Getenv("KVET_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("no /usr/src/linux-source-*.tar.xz: run make deps-kernel-build")
		}
		t.Skip("no /usr/src/linux-source-*.tar.xz (make deps-kernel-build installs it)")
	}
	return found[len(found)-1]
}

// TestSourceBuild builds Debian's kernel source with the smallest config
// that boots (tinyconfig, the guest's options kvet adds, a fragment, no
// modules), boots it and runs a TCP and a scheduler scenario, and proves
// the build is cached: a second build of the same tree and config is not
// rebuilt. A broken fragment fails clearly before any compiling. The first
// build on a machine takes minutes; the cache makes reruns cheap.
func TestSourceBuild(t *testing.T) {
	need(t)
	tarball := sourceTarball(t)
	build := []string{"kernels", "build", "-name", "src", "-config", "tinyconfig", "-fragment", "CONFIG_HZ_1000=y", tarball}

	first := kvet(t, 40*time.Minute, build...)
	if first.code != 0 {
		t.Fatalf("kvet %s = exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(build, " "), first.code, first.stdout, tail(first.stderr, 40))
	}
	t.Logf("first build:\n%s", first.stdout)
	if !regexp.MustCompile(`src: (built|cached) 6\.\d+\.\d+`).MatchString(first.stdout) {
		t.Errorf("kvet kernels build said %q, want the 6.x release built or cached", first.stdout)
	}
	// tinyconfig lacks what the guest needs; kvet says what it added.
	if !strings.Contains(first.stdout, "kvet added the guest's options:") || !strings.Contains(first.stdout, "CONFIG_VIRTIO_CONSOLE") {
		t.Errorf("kvet kernels build does not say it added CONFIG_VIRTIO_CONSOLE:\n%s", first.stdout)
	}
	image := field(first.stdout, "image")
	fi, err := os.Stat(image)
	if err != nil {
		t.Fatalf("built image: %v", err)
	}

	// The same kernel in a matrix boots and runs; it is not rebuilt.
	out := filepath.Join(t.TempDir(), "run")
	m := writeMatrix(t, `
boots: 1
accel: tcg
kernels:
  - name: src
    source: `+tarball+`
    config: tinyconfig
    config_fragments:
      - CONFIG_HZ_1000=y
scenarios:
  - nagle
  - pipe
`)
	r := kvet(t, 15*time.Minute, "run", m, "--out", out)
	if r.code != 0 {
		_, boots := readRun(t, out)
		t.Fatalf("kvet run = exit %d\nstderr:\n%s\nboots: %s", r.code, tail(r.stderr, 30), describe(boots))
	}
	run, boots := readRun(t, out)
	if k := run.Kernels[0]; !strings.HasPrefix(k.Release, "6.") || k.Config["CONFIG_HZ"] != "1000" || k.Source != tarball {
		t.Errorf("run kernel = %+v, want the 6.x build of %s with CONFIG_HZ=1000", k, tarball)
	}
	for _, b := range boots {
		if b.Outcome != results.OK {
			t.Errorf("boot %s = %s (%s), want ok\n%s", b.Key(), b.Outcome, b.Reason, b.ConsoleTail)
			continue
		}
		for _, s := range b.Scenarios {
			if !s.Valid || len(s.Metrics) == 0 {
				t.Errorf("boot %s: %s valid %v with %d metrics", b.Key(), s.Name, s.Valid, len(s.Metrics))
			}
		}
	}
	show := kvet(t, time.Minute, "show", out)
	if show.code != 0 || !strings.Contains(show.stdout, run.Kernels[0].Release) {
		t.Errorf("kvet show = exit %d, does not name %s:\n%s", show.code, run.Kernels[0].Release, show.stdout)
	}

	again := kvet(t, 10*time.Minute, build...)
	if again.code != 0 || !strings.Contains(again.stdout, "src: cached ") || field(again.stdout, "image") != image {
		t.Errorf("second kvet kernels build = exit %d:\n%s\nwant the cached %s", again.code, again.stdout, image)
	}
	if fi2, err := os.Stat(image); err != nil || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("the cached image was rewritten (%v)", err)
	}

	broken := kvet(t, 10*time.Minute, "kernels", "build", "-name", "broken", "-config", "tinyconfig", "-fragment", "CONFIG_KVET_NO_SUCH_OPTION=y", tarball)
	want := "kernel broken: config fragment inline:1: CONFIG_KVET_NO_SUCH_OPTION=y is not in the final config (no such option in this tree"
	if broken.code != 2 || !strings.Contains(broken.stderr, want) {
		t.Errorf("kvet kernels build with a broken fragment = exit %d\n%s\nwant exit 2 and %q", broken.code, broken.stderr, want)
	}
}

// field returns the value of an indented "NAME value" line.
func field(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
