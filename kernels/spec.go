package kernels

// Spec is how a matrix names a kernel. Exactly one source is set: Package,
// Series, Deb, Vmlinuz or Source.
type Spec struct {
	// Name identifies the kernel in the matrix and in results.
	Name string `yaml:"name" json:"name"`
	// Package is a Debian/Ubuntu package name, concrete
	// ("linux-image-6.12.117+deb12-cloud-amd64") or a meta-package
	// ("linux-image-6.12-cloud-amd64") that resolves to the newest concrete one.
	Package string `yaml:"package,omitempty" json:"package,omitempty"`
	// Series is a glob over package names ("linux-image-6.12.*-cloud-amd64");
	// it expands to every matching version, oldest first, named NAME@VERSION.
	Series string `yaml:"series,omitempty" json:"series,omitempty"`
	// Since, with Series, is the lowest upstream version included ("6.12.100").
	Since string `yaml:"since,omitempty" json:"since,omitempty"`
	// Deb is a path or URL of a linux-image .deb.
	Deb string `yaml:"deb,omitempty" json:"deb,omitempty"`
	// Vmlinuz is a path or URL of a bzImage; Modules an optional
	// lib/modules/RELEASE directory and Config an optional kernel config.
	Vmlinuz string     `yaml:"vmlinuz,omitempty" json:"vmlinuz,omitempty"`
	Modules string     `yaml:"modules,omitempty" json:"modules,omitempty"`
	Config  ConfigSpec `yaml:"config,omitempty" json:"config,omitempty"`
	// Source is a kernel source tree (a directory, or a .tar.* of one) that
	// kvet builds, cached by the tree's commit or content and the final
	// config. Ref builds a git commit or tag of the tree instead of its
	// working copy (the tree is left untouched); Config is the starting
	// config (a file, a make target, or {from: NAME}; default defconfig);
	// ConfigFragments are files or inline CONFIG_X=y lines merged over it.
	Source          string   `yaml:"source,omitempty" json:"source,omitempty"`
	Ref             string   `yaml:"ref,omitempty" json:"ref,omitempty"`
	ConfigFragments []string `yaml:"config_fragments,omitempty" json:"config_fragments,omitempty"`
	// SHA256 is required for anything fetched by URL.
	SHA256 string `yaml:"sha256,omitempty" json:"sha256,omitempty"`
	// Cmdline holds extra kernel parameters; a variant of one kernel (say
	// preempt=full) is a matrix entry of its own.
	Cmdline string `yaml:"cmdline,omitempty" json:"cmdline,omitempty"`
	// Sysctl is applied in the guest before the scenarios run.
	Sysctl map[string]string `yaml:"sysctl,omitempty" json:"sysctl,omitempty"`
	// Archive, for package: and series:, overrides the matrix's archive
	// field by field (mirror:, suite:, keyring:); suite: alone means the
	// host's archive URIs with that suite.
	Archive `yaml:",inline"`
}

// Archive says where packages come from. The zero value means the host's
// apt sources; Suite alone, the host's archive URIs with that suite (so
// "trixie-backports" on a bookworm host reads the same archive's
// trixie-backports); Mirror needs Suite.
type Archive struct {
	Mirror  string `yaml:"mirror,omitempty" json:"mirror,omitempty"`   // e.g. http://deb.debian.org/debian
	Suite   string `yaml:"suite,omitempty" json:"suite,omitempty"`     // e.g. bookworm; several separated by spaces
	Keyring string `yaml:"keyring,omitempty" json:"keyring,omitempty"` // OpenPGP keyring file; default: the system's
}

// Over returns a with the fields b sets replaced: a kernel's archive over
// the matrix's.
func (a Archive) Over(b Archive) Archive {
	if b.Mirror != "" {
		a.Mirror = b.Mirror
	}
	if b.Suite != "" {
		a.Suite = b.Suite
	}
	if b.Keyring != "" {
		a.Keyring = b.Keyring
	}
	return a
}

func (a Archive) key() string { return a.Mirror + "\x00" + a.Suite + "\x00" + a.Keyring }
