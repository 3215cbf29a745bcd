package apt

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseOneLine(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Source
		wantErr  string
	}{
		{"plain", "deb http://deb.debian.org/debian/ bookworm main contrib\n",
			[]Source{{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}, Origin: "f:1"}}, ""},
		{"comments and deb-src", "# all off\n\ndeb-src http://x/debian bookworm main\n  # deb http://y bookworm main\n", nil, ""},
		{"options", "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/k.gpg] http://x/debian bookworm-security main # trailing\n",
			[]Source{{URI: "http://x/debian", Suites: []string{"bookworm-security"}, Components: []string{"main"}, SignedBy: "/usr/share/keyrings/k.gpg", Architectures: []string{"amd64", "arm64"}, Origin: "f:1"}}, ""},
		{"spaced options", "deb [ signed-by=/k.gpg ] http://x/debian sid main\n",
			[]Source{{URI: "http://x/debian", Suites: []string{"sid"}, Components: []string{"main"}, SignedBy: "/k.gpg", Origin: "f:1"}}, ""},
		{"disabled", "deb [enabled=no] http://x/debian sid main\n", nil, ""},
		{"second line", "\ndeb http://x/ubuntu noble main\n",
			[]Source{{URI: "http://x/ubuntu", Suites: []string{"noble"}, Components: []string{"main"}, Origin: "f:2"}}, ""},
		{"missing suite", "deb http://x/debian\n", nil, "f:1: want URI and suite"},
		{"unknown type", "rpm http://x/ main\n", nil, `f:1: unknown type "rpm"`},
		{"unterminated", "deb [arch=amd64 http://x/ sid\n", nil, "f:1: unterminated options"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOneLine(strings.NewReader(tt.in), "f")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseOneLine(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOneLine(%q) error = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOneLine(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

const inlineKeySource = `Types: deb
URIs: https://example.org/apt
Suites: stable
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZ
 -----END PGP PUBLIC KEY BLOCK-----
`

func TestParseDeb822(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Source
	}{
		{"host", `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`, []Source{
			{URI: "http://deb.debian.org/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"}, SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg", Origin: "f: paragraph 1"},
			{URI: "http://deb.debian.org/debian-security", Suites: []string{"bookworm-security"}, Components: []string{"main"}, SignedBy: "/usr/share/keyrings/debian-archive-keyring.gpg", Origin: "f: paragraph 2"},
		}},
		{"disabled and deb-src", "Types: deb-src\nURIs: http://a/\nSuites: x\n\nTypes: deb\nEnabled: no\nURIs: http://b/\nSuites: y\n", nil},
		{"both types, two URIs, lowercase keys", "types: deb deb-src\nuris: http://a/ http://b/\nsuites: s\narchitectures: amd64\n", []Source{
			{URI: "http://a", Suites: []string{"s"}, Architectures: []string{"amd64"}, Origin: "f: paragraph 1"},
			{URI: "http://b", Suites: []string{"s"}, Architectures: []string{"amd64"}, Origin: "f: paragraph 1"},
		}},
		{"inline key", inlineKeySource, []Source{
			{URI: "https://example.org/apt", Suites: []string{"stable"}, Components: []string{"main"},
				SignedBy: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----", Origin: "f: paragraph 1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDeb822(strings.NewReader(tt.in), "f")
			if err != nil {
				t.Fatalf("ParseDeb822() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDeb822() = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := ParseDeb822(strings.NewReader("Types: deb\nSuites: x\n"), "f"); err == nil {
		t.Errorf("ParseDeb822(no URIs) = nil error, want one")
	}
}

func TestReadSources(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadSources(dir); err == nil || !strings.Contains(err.Error(), "no apt sources in "+dir) {
		t.Fatalf("ReadSources(empty) error = %v, want no apt sources", err)
	}
	must(t, os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "sources.list"), []byte("deb http://a/ one main\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sources.list.d", "b.sources"), []byte("Types: deb\nURIs: http://b/\nSuites: two\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sources.list.d", "a.list"), []byte("deb http://c/ three main\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "sources.list.d", "x.list.disabled"), []byte("deb http://d/ four main\n"), 0o644))
	got, err := ReadSources(dir)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, s := range got {
		uris = append(uris, s.URI)
	}
	if want := []string{"http://a", "http://c", "http://b"}; !reflect.DeepEqual(uris, want) {
		t.Errorf("ReadSources() URIs = %v, want %v", uris, want)
	}
}

func FuzzParseOneLine(f *testing.F) {
	f.Add("deb [arch=amd64 signed-by=/k.gpg] http://x/debian bookworm main\n")
	f.Add("deb-src http://x bookworm main\n# c\n")
	f.Add("deb [ http://x\n")
	f.Fuzz(func(t *testing.T, in string) {
		srcs, err := ParseOneLine(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, s := range srcs {
			if s.URI == "" || len(s.Suites) != 1 {
				t.Errorf("ParseOneLine(%q) gave %+v without URI or suite", in, s)
			}
		}
	})
}

func FuzzParseDeb822(f *testing.F) {
	f.Add("Types: deb\nURIs: http://a/\nSuites: s\nComponents: main\n")
	f.Add(inlineKeySource)
	f.Add("Types: deb\nEnabled: no\n\n\nTypes: deb deb-src\nURIs: a b\nSuites: c\n")
	f.Fuzz(func(t *testing.T, in string) {
		srcs, err := ParseDeb822(strings.NewReader(in), "f")
		if err != nil {
			return
		}
		for _, s := range srcs {
			if s.URI == "" || len(s.Suites) == 0 {
				t.Errorf("ParseDeb822(%q) gave %+v without URI or suite", in, s)
			}
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
