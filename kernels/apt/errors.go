package apt

import "fmt"

// IntegrityError is an archive file kvet refused: a signature that does not
// verify, an expired Release, a hash or size that does not match. Nothing
// of it was cached or used.
type IntegrityError struct {
	URL string
	Err error
}

func (e *IntegrityError) Error() string { return fmt.Sprintf("%s: %v; refused", e.URL, e.Err) }
func (e *IntegrityError) Unwrap() error { return e.Err }

// DownloadError is a download that failed every attempt.
type DownloadError struct {
	Name, URL string
	Attempts  int
	Err       error
}

func (e *DownloadError) Error() string {
	return fmt.Sprintf("%s: download failed after %d attempts: %v", e.Name, e.Attempts, e.Err)
}
func (e *DownloadError) Unwrap() error { return e.Err }
