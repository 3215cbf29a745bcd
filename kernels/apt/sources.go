// Package apt reads Debian-style archives: the host's apt sources, signed
// InRelease files, Packages indexes, and the verified, content-addressed
// download of the files they list.
package apt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pault.ag/go/debian/control"
)

// Source is one enabled "deb" entry of the apt sources.
type Source struct {
	URI        string   // archive root, e.g. http://deb.debian.org/debian
	Suites     []string // e.g. bookworm bookworm-updates
	Components []string // e.g. main
	// SignedBy is what the entry's Signed-By names: keyring paths,
	// fingerprints, or an inline armored key. Empty: the system keyrings.
	SignedBy string
	// Architectures restricts the entry; empty means the host's.
	Architectures []string
	Origin        string // file:line or file:paragraph, for messages
}

// ErrNoSources means the host has no usable apt sources.
var ErrNoSources = errors.New("no apt sources")

// ReadSources reads dir/sources.list, dir/sources.list.d/*.list and
// dir/sources.list.d/*.sources (dir is /etc/apt on a host). Missing files are
// not an error; having no enabled "deb" entry at all is ErrNoSources.
func ReadSources(dir string) ([]Source, error) {
	var files []string
	if _, err := os.Stat(filepath.Join(dir, "sources.list")); err == nil {
		files = append(files, filepath.Join(dir, "sources.list"))
	}
	d := filepath.Join(dir, "sources.list.d")
	entries, err := os.ReadDir(d)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("apt sources: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources")) {
			files = append(files, filepath.Join(d, n))
		}
	}
	sort.Strings(files[min(1, len(files)):]) // sources.list first, then by name like apt
	var all []Source
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, fmt.Errorf("apt sources: %w", err)
		}
		var srcs []Source
		if strings.HasSuffix(f, ".sources") {
			srcs, err = ParseDeb822(fh, f)
		} else {
			srcs, err = ParseOneLine(fh, f)
		}
		fh.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, srcs...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoSources, dir)
	}
	return all, nil
}

// ParseOneLine parses the one-line format:
//
//	deb [ option=value ... ] URI suite [component ...]
//
// deb-src and commented lines are skipped. name is used in errors.
func ParseOneLine(r io.Reader, name string) ([]Source, error) {
	var out []Source
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if fields[0] != "deb" {
			if fields[0] == "deb-src" {
				continue
			}
			return nil, fmt.Errorf("%s:%d: unknown type %q", name, n, fields[0])
		}
		fields = fields[1:]
		src := Source{Origin: fmt.Sprintf("%s:%d", name, n)}
		enabled := true
		if len(fields) > 0 && strings.HasPrefix(fields[0], "[") {
			// Options run to the closing bracket, which may be glued to the
			// last option or stand alone.
			opts := strings.TrimPrefix(fields[0], "[")
			fields = fields[1:]
			for !strings.HasSuffix(opts, "]") {
				if len(fields) == 0 {
					return nil, fmt.Errorf("%s:%d: unterminated options", name, n)
				}
				opts += " " + fields[0]
				fields = fields[1:]
			}
			for _, o := range strings.Fields(strings.TrimSuffix(opts, "]")) {
				k, v, ok := strings.Cut(o, "=")
				if !ok {
					return nil, fmt.Errorf("%s:%d: option %q has no value", name, n, o)
				}
				switch strings.ToLower(k) {
				case "signed-by":
					src.SignedBy = strings.ReplaceAll(v, ",", " ")
				case "arch":
					src.Architectures = strings.Split(v, ",")
				case "enabled":
					enabled = v != "no"
				}
			}
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: want URI and suite", name, n)
		}
		src.URI = strings.TrimSuffix(fields[0], "/")
		if src.URI == "" {
			return nil, fmt.Errorf("%s:%d: bad URI %q", name, n, fields[0])
		}
		src.Suites = []string{fields[1]}
		src.Components = fields[2:]
		if enabled {
			out = append(out, src)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ParseDeb822 parses the deb822 format (*.sources): paragraphs with Types,
// URIs, Suites, Components, Signed-By and Enabled. Entries without the type
// "deb" or with "Enabled: no" are skipped; one paragraph with several URIs
// gives one Source per URI.
func ParseDeb822(r io.Reader, name string) ([]Source, error) {
	pr, err := control.NewParagraphReader(r, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var out []Source
	for i := 1; ; i++ {
		p, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: paragraph %d: %w", name, i, err)
		}
		get := func(k string) string {
			// Field names are case-insensitive in deb822.
			for _, key := range p.Order {
				if strings.EqualFold(key, k) {
					return strings.TrimSpace(p.Values[key])
				}
			}
			return ""
		}
		if strings.EqualFold(get("Enabled"), "no") {
			continue
		}
		if !contains(strings.Fields(get("Types")), "deb") {
			continue
		}
		uris := strings.Fields(get("URIs"))
		suites := strings.Fields(get("Suites"))
		if len(uris) == 0 || len(suites) == 0 {
			return nil, fmt.Errorf("%s: paragraph %d: want URIs and Suites", name, i)
		}
		for _, u := range uris {
			if strings.TrimSuffix(u, "/") == "" {
				return nil, fmt.Errorf("%s: paragraph %d: bad URI %q", name, i, u)
			}
			out = append(out, Source{
				URI:           strings.TrimSuffix(u, "/"),
				Suites:        suites,
				Components:    fields(get("Components")),
				SignedBy:      get("Signed-By"),
				Architectures: fields(get("Architectures")),
				Origin:        fmt.Sprintf("%s: paragraph %d", name, i),
			})
		}
	}
	return out, nil
}

// fields is strings.Fields, nil for no fields.
func fields(s string) []string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil
	}
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
