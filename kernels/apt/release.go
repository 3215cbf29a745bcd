package apt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"pault.ag/go/debian/control"
)

// Release is the content of a suite's (In)Release file.
type Release struct {
	Suite      string
	Codename   string
	Date       time.Time
	ValidUntil time.Time // zero when absent
	// Files maps a path relative to dists/SUITE/ to its size and SHA256.
	Files map[string]FileHash
}

// FileHash is a file's size and lowercase hex SHA256.
type FileHash struct {
	Size   int64
	SHA256 string
}

// ErrSignature means an InRelease file is unsigned, or not signed by a
// trusted key.
var ErrSignature = errors.New("bad signature")

// VerifyInRelease checks the clear signature of an InRelease file against
// keyring and parses the signed text. now decides key expiry; zero means the
// current time.
func VerifyInRelease(data []byte, keyring openpgp.EntityList, now time.Time) (*Release, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("InRelease: %w: not a clear-signed message", ErrSignature)
	}
	cfg := &packet.Config{}
	if !now.IsZero() {
		cfg.Time = func() time.Time { return now }
	}
	if _, err := block.VerifySignature(keyring, cfg); err != nil {
		return nil, fmt.Errorf("InRelease: %w: %v", ErrSignature, err)
	}
	// Only the signed bytes are parsed: anything outside the block is ignored.
	return ParseRelease(block.Plaintext)
}

// ParseRelease parses the (unsigned) text of a Release file.
func ParseRelease(text []byte) (*Release, error) {
	if bytes.HasPrefix(text, []byte("-----BEGIN PGP")) {
		return nil, errors.New("release: signed text given to ParseRelease")
	}
	pr, err := control.NewParagraphReader(bytes.NewReader(text), nil)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	p, err := pr.Next()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("release: empty")
	}
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	r := &Release{
		Suite:    p.Values["Suite"],
		Codename: p.Values["Codename"],
		Files:    map[string]FileHash{},
	}
	if d := p.Values["Date"]; d != "" {
		if r.Date, err = parseDate(d); err != nil {
			return nil, fmt.Errorf("release: Date: %w", err)
		}
	}
	if d := p.Values["Valid-Until"]; d != "" {
		if r.ValidUntil, err = parseDate(d); err != nil {
			return nil, fmt.Errorf("release: Valid-Until: %w", err)
		}
	}
	for _, line := range strings.Split(p.Values["SHA256"], "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("release: SHA256: bad line %q", line)
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if _, herr := hex.DecodeString(f[0]); err != nil || herr != nil || size < 0 || len(f[0]) != 64 {
			return nil, fmt.Errorf("release: SHA256: bad line %q", line)
		}
		r.Files[f[2]] = FileHash{Size: size, SHA256: strings.ToLower(f[0])}
	}
	if len(r.Files) == 0 {
		return nil, errors.New("release: no SHA256 file list")
	}
	return r, nil
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad date %q", s)
}
