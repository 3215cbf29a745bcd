package apt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/schollz/progressbar/v3"
)

// Fetcher downloads files whose SHA256 is known into a content-addressed
// directory: Dir/<sha256><ext>. A file appears there only once verified; two
// processes fetching the same file download it once.
type Fetcher struct {
	Dir    string
	HTTP   *http.Client // nil: a client with DefaultTimeouts
	Logger *slog.Logger // nil: no log lines
	// Progress receives a progress bar when Terminal is set; otherwise
	// progress is reported as plain log lines.
	Progress io.Writer
	Terminal bool
	// Attempts bounds the tries of one download (default 5); a truncated
	// transfer is resumed with an HTTP Range request. Backoff is the first
	// wait between tries (default 1s), doubled each time up to 30s.
	Attempts int
	Backoff  time.Duration
}

// MismatchError is a download whose content does not match its expected
// SHA256. Nothing was cached.
type MismatchError struct {
	Name      string
	Got, Want string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch: got %s, want %s; not cached", e.Name, e.Got, e.Want)
}

// HTTPError is an HTTP response that is not a success.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// temporary says whether retrying may help.
func (e *HTTPError) temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// Path is where the file with this SHA256 is, or would be, cached.
func (f *Fetcher) Path(sum, ext string) string {
	return filepath.Join(f.Dir, strings.ToLower(sum)+ext)
}

// Fetch returns the cached path of the file with SHA256 sum, downloading it
// from url first if needed. size is the expected size, 0 if unknown; name
// labels messages.
func (f *Fetcher) Fetch(ctx context.Context, url, sum string, size int64, ext, name string) (string, error) {
	sum = strings.ToLower(sum)
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%s: bad sha256 %q", name, sum)
	}
	final := f.Path(sum, ext)
	if _, err := os.Stat(final); err == nil && f.cachedOK(final, sum, name) {
		return final, nil
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	lock := flock.New(final + ".lock")
	ok, err := lock.TryLockContext(ctx, 100*time.Millisecond)
	if err != nil || !ok {
		return "", fmt.Errorf("%s: lock: %w", name, errors.Join(err, ctx.Err()))
	}
	defer lock.Unlock()
	// Another process may have finished it while we waited for the lock.
	if _, err := os.Stat(final); err == nil && f.cachedOK(final, sum, name) {
		return final, nil
	}
	part := final + ".part"
	attempts := f.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	backoff := f.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			f.log("download retry", "name", name, "attempt", i+1, "err", lastErr)
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("%s: %w", name, ctx.Err())
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
		resumed, err := f.transfer(ctx, url, part, size, name)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil || !retryable(err) {
				break
			}
			continue
		}
		got, err := fileSHA256(part)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		if got != sum {
			os.Remove(part)
			lastErr = &MismatchError{Name: name, Got: got, Want: sum}
			if resumed {
				continue // the earlier part may be what was wrong: start over
			}
			return "", lastErr
		}
		if err := os.Rename(part, final); err != nil {
			return "", fmt.Errorf("cache: %w", err)
		}
		f.markVerified(final, sum)
		return final, nil
	}
	return "", &DownloadError{Name: name, URL: url, Attempts: attempts, Err: lastErr}
}

// transfer appends the rest of url to part, resuming from its current size.
// It reports whether it resumed, and fails on a short transfer.
func (f *Fetcher) transfer(ctx context.Context, url, part string, size int64, name string) (resumed bool, err error) {
	fh, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("cache: %w", err)
	}
	defer fh.Close()
	have, err := fh.Seek(0, io.SeekEnd)
	if err != nil {
		return false, err
	}
	if size > 0 && have >= size {
		// Complete (or too long): let the hash decide, restart if wrong.
		if have == size {
			return true, nil
		}
		have = 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		resumed = true
	case resp.StatusCode == http.StatusOK:
		have = 0 // the server ignored the range: start over
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		fh.Truncate(0)
		return false, &HTTPError{URL: url, Status: resp.StatusCode}
	default:
		return false, &HTTPError{URL: url, Status: resp.StatusCode}
	}
	if err := fh.Truncate(have); err != nil {
		return false, err
	}
	if _, err := fh.Seek(have, io.SeekStart); err != nil {
		return false, err
	}
	total := size
	if total <= 0 && resp.ContentLength > 0 {
		total = have + resp.ContentLength
	}
	var w io.Writer = fh
	start := time.Now()
	if f.Terminal && f.Progress != nil {
		max := total
		if max <= 0 {
			max = -1 // unknown length: a spinner
		}
		bar := progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(f.Progress),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		bar.Set64(have)
		defer bar.Exit()
		w = io.MultiWriter(fh, bar)
	} else {
		f.log("downloading", "name", name, "url", url, "bytes", total, "from", have)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return resumed, fmt.Errorf("%s: after %d bytes: %w", name, have+n, err)
	}
	if total > 0 && have+n < total {
		return resumed, fmt.Errorf("%s: truncated: %d of %d bytes", name, have+n, total)
	}
	if !f.Terminal || f.Progress == nil {
		el := time.Since(start)
		f.log("downloaded", "name", name, "bytes", have+n, "seconds", el.Seconds())
	}
	return resumed, nil
}

func (f *Fetcher) client() *http.Client { return httpClient(f.HTTP) }

func (f *Fetcher) log(msg string, args ...any) {
	if f.Logger != nil {
		f.Logger.Info(msg, args...)
	}
}

func fileSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
