package apt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"pault.ag/go/debian/control"
	"pault.ag/go/debian/dependency"
	"pault.ag/go/debian/version"
)

// Package is one binary package of an index.
type Package struct {
	Name     string
	Version  version.Version
	Filename string // relative to the archive root
	Size     int64
	SHA256   string
	Depends  dependency.Dependency
	Source   string // source package, as the index names it
	// Archive and Suite say where the package was found; URL is the .deb.
	Archive string
	Suite   string
}

// URL is where the package's .deb is downloaded from.
func (p Package) URL() string { return p.Archive + "/" + p.Filename }

// ParsePackages parses a Packages index. keep, if not nil, selects packages
// by name before they are decoded: a full Debian index holds ~60000 packages
// and a kernel resolver needs a few hundred.
func ParsePackages(r io.Reader, keep func(name string) bool) ([]Package, error) {
	sel, err := selectParagraphs(r, keep)
	if err != nil {
		return nil, err
	}
	if len(sel) == 0 {
		return nil, nil
	}
	var idx []control.BinaryIndex
	if err := control.Unmarshal(&idx, bytes.NewReader(sel)); err != nil {
		return nil, fmt.Errorf("packages: %w", err)
	}
	out := make([]Package, 0, len(idx))
	for i := range idx {
		b := &idx[i]
		if b.Package == "" {
			return nil, fmt.Errorf("packages: paragraph %d has no Package", i+1)
		}
		dep, err := dependency.Parse(b.Values["Depends"])
		if err != nil {
			return nil, fmt.Errorf("packages: %s: Depends: %w", b.Package, err)
		}
		out = append(out, Package{
			Name:     b.Package,
			Version:  b.Version,
			Filename: b.Filename,
			Size:     int64(b.Size),
			SHA256:   strings.ToLower(b.SHA256),
			Depends:  *dep,
			Source:   b.Source,
		})
	}
	return out, nil
}

// selectParagraphs returns the raw paragraphs of r whose Package keep
// selects (all when keep is nil).
func selectParagraphs(r io.Reader, keep func(name string) bool) ([]byte, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var sel bytes.Buffer
	var para bytes.Buffer
	flush := func() {
		if para.Len() == 0 {
			return
		}
		if keep == nil || keep(paragraphPackage(para.Bytes())) {
			sel.Write(para.Bytes())
			sel.WriteByte('\n')
		}
		para.Reset()
	}
	// Split paragraphs on blank lines cheaply; the control library parses
	// the selected ones.
	partial := false // the previous read ended inside a long line
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			para.Write(line)
			partial = true
			continue
		}
		blank := !partial && len(line) > 0 && len(bytes.TrimRight(line, "\r\n")) == 0
		partial = false
		if blank {
			flush()
		} else {
			para.Write(line)
			if len(line) > 0 && line[len(line)-1] != '\n' {
				para.WriteByte('\n')
			}
		}
		if err == io.EOF {
			flush()
			break
		}
		if err != nil {
			return nil, fmt.Errorf("packages: %w", err)
		}
	}
	return sel.Bytes(), nil
}

// paragraphPackage returns the Package field of a raw paragraph.
func paragraphPackage(p []byte) string {
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if v, ok := bytes.CutPrefix(line, []byte("Package:")); ok {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}
