package apt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ulikunitz/xz"

	"github.com/kvet/kvet/internal/atomicfile"
)

// Client reads the package indexes of apt sources, verifying every file, and
// keeps the verified indexes under CacheDir/indexes so that resolution works
// when the archive is unreachable.
type Client struct {
	CacheDir string
	HTTP     *http.Client // nil: http.DefaultClient
	Logger   *slog.Logger // nil: no log lines
	// AptDir holds the system keyrings (trusted.gpg.d); default /etc/apt.
	AptDir string
	// Keyring, when set, is trusted instead of each source's keys.
	Keyring openpgp.EntityList
	Arch    string // default amd64
	// Keep selects the packages kept from each index (default: names
	// starting with "linux-image-").
	Keep func(name string) bool
	// Now is the clock for signature and Valid-Until checks (default
	// time.Now).
	Now func() time.Time
}

// Index is the merged set of packages of several suites.
type Index struct {
	Packages []Package
	// Stale lists the suites read from the cache because their archive was
	// unreachable, with the date of the cached Release.
	Stale []StaleSuite
}

// StaleSuite is a suite whose index came from the cache.
type StaleSuite struct {
	Archive, Suite string
	Date           time.Time
	Err            error // why the archive was not used
}

// UnreachableError wraps a failure to reach an archive when no cached index
// can stand in.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string { return fmt.Sprintf("%s: unreachable: %v", e.URL, e.Err) }
func (e *UnreachableError) Unwrap() error { return e.Err }

// KeepKernelImages selects linux-image-* packages.
func KeepKernelImages(name string) bool { return strings.HasPrefix(name, "linux-image-") }

// memberPrefixes name the packages a kernel split over several packages is
// made of: Debian's linux-binary/-modules/-base (from 7.x on) and Ubuntu's
// linux-modules[-extra].
var memberPrefixes = []string{"linux-binary-", "linux-modules-", "linux-base-"}

// KeepKernelPackages selects linux-image-* packages and the packages a split
// kernel's image, modules and config come in.
func KeepKernelPackages(name string) bool {
	if KeepKernelImages(name) {
		return true
	}
	for _, p := range memberPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// selection names what Keep selects by default; a cached selection made
// with another one is read again.
const selection = "kernel-packages-2"

// Index fetches, verifies and merges the indexes of every suite of sources.
func (c *Client) Index(ctx context.Context, sources []Source) (*Index, error) {
	ix := &Index{}
	for _, src := range sources {
		if len(src.Architectures) > 0 && !contains(src.Architectures, c.arch()) {
			continue
		}
		kr := c.Keyring
		if kr == nil {
			var err error
			if kr, err = KeyringFor(src, c.aptDir()); err != nil {
				return nil, err
			}
		}
		comps := src.Components
		if len(comps) == 0 {
			comps = []string{"main"}
		}
		for _, suite := range src.Suites {
			pkgs, stale, err := c.suite(ctx, src.URI, suite, comps, kr)
			if err != nil {
				return nil, err
			}
			if stale != nil {
				ix.Stale = append(ix.Stale, *stale)
			}
			ix.Packages = append(ix.Packages, pkgs...)
		}
	}
	return ix, nil
}

// cacheMeta records which Packages file a cached selection came from.
type cacheMeta struct {
	Sources map[string]string `json:"sources"` // component -> sha256 of the Packages file
	// Selection names the filter the selection was made with.
	Selection string `json:"selection,omitempty"`
}

func (c *Client) suite(ctx context.Context, archive, suite string, comps []string, kr openpgp.EntityList) ([]Package, *StaleSuite, error) {
	dir := filepath.Join(c.CacheDir, "indexes", cacheKey(archive, suite))
	inURL := archive + "/dists/" + suite + "/InRelease"
	data, err := c.get(ctx, inURL)
	var stale *StaleSuite
	if err != nil {
		var he *HTTPError
		if ctx.Err() != nil || (errors.As(err, &he) && he.Status == http.StatusNotFound) {
			return nil, nil, fmt.Errorf("suite %s: %w", suite, err)
		}
		cached, cerr := os.ReadFile(filepath.Join(dir, "InRelease"))
		if cerr != nil {
			return nil, nil, &UnreachableError{URL: inURL, Err: err}
		}
		data = cached
		stale = &StaleSuite{Archive: archive, Suite: suite, Err: err}
	}
	rel, err := VerifyInRelease(data, kr, c.now())
	if err != nil {
		if stale != nil {
			return nil, nil, fmt.Errorf("cached %s/%s: %w", archive, suite, err)
		}
		return nil, nil, fmt.Errorf("%s: %w; refused", inURL, err)
	}
	if stale != nil {
		stale.Date = rel.Date
		if c.Logger != nil {
			c.Logger.Warn("archive unreachable, using cached index", "archive", archive, "suite", suite, "date", rel.Date.Format(time.RFC1123), "err", stale.Err)
		}
	} else if !rel.ValidUntil.IsZero() && c.now().After(rel.ValidUntil) {
		return nil, nil, fmt.Errorf("%s: expired on %s; refused", inURL, rel.ValidUntil.Format(time.RFC1123))
	}

	var meta cacheMeta
	if b, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil {
		json.Unmarshal(b, &meta) // a bad file only costs a download
	}
	if meta.Selection != c.selection() {
		meta = cacheMeta{} // selected with another filter: select again
	}
	newMeta := cacheMeta{Sources: map[string]string{}, Selection: c.selection()}
	var all []Package
	sel := map[string][]byte{}
	for _, comp := range comps {
		name, fh, ok := pickPackagesFile(rel, comp, c.arch())
		if !ok {
			return nil, nil, fmt.Errorf("%s/%s: no %s/binary-%s/Packages listed in InRelease", archive, suite, comp, c.arch())
		}
		selFile := filepath.Join(dir, comp+".packages")
		var raw []byte
		if meta.Sources[comp] == fh.SHA256 {
			raw, _ = os.ReadFile(selFile)
		}
		if raw == nil {
			if stale != nil {
				return nil, nil, fmt.Errorf("cached %s/%s: no cached %s index: %w", archive, suite, comp, &UnreachableError{URL: inURL, Err: stale.Err})
			}
			u := archive + "/dists/" + suite + "/" + name
			body, err := c.get(ctx, u)
			if err != nil {
				return nil, nil, err
			}
			if got := sha256Hex(body); got != fh.SHA256 || int64(len(body)) != fh.Size {
				return nil, nil, fmt.Errorf("%s: sha256 mismatch: got %s (%d bytes), want %s (%d bytes); refused", u, got, len(body), fh.SHA256, fh.Size)
			}
			r, err := decompress(name, body)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", u, err)
			}
			if raw, err = selectParagraphs(r, c.keep()); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", u, err)
			}
			sel[comp] = raw
		}
		newMeta.Sources[comp] = fh.SHA256
		pkgs, err := ParsePackages(bytes.NewReader(raw), nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%s/%s %s: %w", archive, suite, comp, err)
		}
		for i := range pkgs {
			pkgs[i].Archive, pkgs[i].Suite = archive, suite
		}
		all = append(all, pkgs...)
	}
	if stale == nil {
		if err := c.store(dir, data, sel, newMeta); err != nil && c.Logger != nil {
			c.Logger.Warn("index cache not written", "err", err)
		}
	}
	return all, stale, nil
}

// store writes the verified InRelease and selections; each file atomically.
func (c *Client) store(dir string, inRelease []byte, sel map[string][]byte, meta cacheMeta) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for comp, raw := range sel {
		if err := atomicfile.Write(filepath.Join(dir, comp+".packages"), raw); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(meta)
	if err := atomicfile.Write(filepath.Join(dir, "meta.json"), b); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "InRelease"), inRelease)
}

// pickPackagesFile prefers .gz: it decompresses four times faster than .xz
// (0.4 s against 1.7 s for bookworm's 50 MB index), more than the 40% larger
// download costs.
func pickPackagesFile(rel *Release, comp, arch string) (string, FileHash, bool) {
	base := comp + "/binary-" + arch + "/Packages"
	for _, ext := range []string{".gz", ".xz", ""} {
		if fh, ok := rel.Files[base+ext]; ok {
			return base + ext, fh, true
		}
	}
	return "", FileHash{}, false
}

func decompress(name string, body []byte) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return xz.NewReader(bytes.NewReader(body))
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(bytes.NewReader(body))
	}
	return bytes.NewReader(body), nil
}

// get fetches a small file, retrying transient failures a few times.
func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	var lastErr error
	backoff := 200 * time.Millisecond
	for i := 0; i < 3; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 4
		}
		b, err := c.getOnce(ctx, u)
		if err == nil {
			return b, nil
		}
		lastErr = err
		if ctx.Err() != nil || !retryable(err) {
			break
		}
	}
	return nil, lastErr
}

// retryable says whether trying again soon may succeed: not after an HTTP
// client error, an unknown host or a refused connection (the archive is
// down or we are offline: the cache may stand in instead).
func retryable(err error) bool {
	var he *HTTPError
	var dnsErr *net.DNSError
	if errors.As(err, &he) {
		return he.temporary()
	}
	if errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	return true
}

func (c *Client) getOnce(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{URL: u, Status: resp.StatusCode}
	}
	return io.ReadAll(resp.Body)
}

func (c *Client) arch() string {
	if c.Arch != "" {
		return c.Arch
	}
	return "amd64"
}

func (c *Client) aptDir() string {
	if c.AptDir != "" {
		return c.AptDir
	}
	return "/etc/apt"
}

func (c *Client) keep() func(string) bool {
	if c.Keep != nil {
		return c.Keep
	}
	return KeepKernelPackages
}

func (c *Client) selection() string {
	if c.Keep != nil {
		return "custom"
	}
	return selection
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func cacheKey(archive, suite string) string {
	u, err := url.Parse(archive)
	s := archive
	if err == nil {
		s = u.Host + u.Path
	}
	s += "_" + suite
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
