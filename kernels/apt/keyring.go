package apt

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// SystemKeyrings lists the keyrings apt trusts by default: the Debian
// archive keyring, dir/trusted.gpg and dir/trusted.gpg.d/* (dir is /etc/apt).
func SystemKeyrings(dir string) []string {
	var paths []string
	for _, p := range []string{"/usr/share/keyrings/debian-archive-keyring.gpg", filepath.Join(dir, "trusted.gpg")} {
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	for _, ext := range []string{"*.gpg", "*.asc"} {
		m, _ := filepath.Glob(filepath.Join(dir, "trusted.gpg.d", ext))
		sort.Strings(m)
		paths = append(paths, m...)
	}
	return paths
}

// ReadKeyring reads an OpenPGP keyring, binary or armored.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}

// LoadKeyrings reads and merges keyring files.
func LoadKeyrings(paths ...string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		kr, err := ReadKeyring(data)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", p, err)
		}
		all = append(all, kr...)
	}
	return all, nil
}

// KeyringFor returns the keys a source trusts: its Signed-By (paths, an
// inline armored key, or fingerprints selecting from the system keyrings) or,
// without Signed-By, the system keyrings under aptDir.
func KeyringFor(src Source, aptDir string) (openpgp.EntityList, error) {
	sb := strings.TrimSpace(src.SignedBy)
	if sb == "" {
		kr, err := LoadKeyrings(SystemKeyrings(aptDir)...)
		if err != nil {
			return nil, err
		}
		if len(kr) == 0 {
			return nil, fmt.Errorf("keyring: no system keyrings found (debian-archive-keyring, %s/trusted.gpg.d)", aptDir)
		}
		return kr, nil
	}
	if strings.Contains(sb, "-----BEGIN PGP") {
		kr, err := openpgp.ReadArmoredKeyRing(strings.NewReader(sb))
		if err != nil {
			return nil, fmt.Errorf("keyring: inline Signed-By of %s: %w", src.Origin, err)
		}
		return kr, nil
	}
	var paths, fprs []string
	for _, f := range strings.Fields(sb) {
		if strings.HasPrefix(f, "/") {
			paths = append(paths, f)
		} else {
			fprs = append(fprs, strings.ToUpper(strings.TrimSuffix(f, "!")))
		}
	}
	kr, err := LoadKeyrings(paths...)
	if err != nil {
		return nil, err
	}
	if len(fprs) == 0 {
		return kr, nil
	}
	sys, err := LoadKeyrings(SystemKeyrings(aptDir)...)
	if err != nil {
		return nil, err
	}
	for _, e := range sys {
		if matchesFingerprint(e, fprs) {
			kr = append(kr, e)
		}
	}
	if len(kr) == 0 {
		return nil, fmt.Errorf("keyring: no key for Signed-By %q of %s", sb, src.Origin)
	}
	return kr, nil
}

func matchesFingerprint(e *openpgp.Entity, fprs []string) bool {
	keys := []string{strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))}
	for _, s := range e.Subkeys {
		keys = append(keys, strings.ToUpper(hex.EncodeToString(s.PublicKey.Fingerprint)))
	}
	for _, k := range keys {
		for _, f := range fprs {
			if f != "" && strings.HasSuffix(k, f) {
				return true
			}
		}
	}
	return false
}
