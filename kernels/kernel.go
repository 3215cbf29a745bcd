// Package kernels owns kernel specs and sources: local .deb files, local
// vmlinuz plus modules trees, Debian-style archives and URLs, the download
// cache, .deb extraction, module dependency resolution and kernel config
// parsing. It never boots anything.
package kernels

// Kernel is a kernel ready to boot: an image on disk, its modules and config.
type Kernel struct {
	Name    string // the matrix name
	Source  string // how the user named it: a package, a path, a URL
	Package string // concrete package name, when it came from a package
	Version string // concrete package version, when it came from a package
	// Members names the other packages of a kernel split over several
	// (linux-binary-REL, linux-modules-REL, ...), of the same Version.
	Members []string
	Release string // kernel release, as uname -r prints it
	Vmlinuz string // path of the bzImage
	// ModulesDir is the lib/modules/RELEASE directory, "" when the kernel has
	// no modules.
	ModulesDir string
	// Config is the kernel configuration (CONFIG_FOO -> "y", "m", "250", ...),
	// nil when unknown.
	Config map[string]string
	SHA256 string // of the image at Vmlinuz
}
