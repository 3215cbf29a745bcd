package apt

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts bound every network wait of a download: a mirror that accepts the
// connection and never answers, or stops sending halfway, fails the attempt
// instead of holding the run forever. The zero value of a field takes its
// default.
type Timeouts struct {
	Connect time.Duration // TCP connect and TLS handshake (default 30s)
	Header  time.Duration // from the request to the response headers (default 60s)
	Idle    time.Duration // between two reads of the body (default 60s)
}

// DefaultTimeouts are the timeouts of the client used when none is given.
var DefaultTimeouts = Timeouts{Connect: 30 * time.Second, Header: 60 * time.Second, Idle: 60 * time.Second}

func (t Timeouts) withDefaults() Timeouts {
	if t.Connect <= 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.Header <= 0 {
		t.Header = DefaultTimeouts.Header
	}
	if t.Idle <= 0 {
		t.Idle = DefaultTimeouts.Idle
	}
	return t
}

// NewHTTPClient returns a client whose connects, response headers and body
// reads are bounded by t.
func NewHTTPClient(t Timeouts) *http.Client {
	t = t.withDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = t.Connect
	tr.ResponseHeaderTimeout = t.Header
	return &http.Client{Transport: &idleTransport{base: tr, idle: t.Idle}}
}

var (
	defaultClientOnce sync.Once
	defaultClient     *http.Client
)

// httpClient returns c, or a client with DefaultTimeouts when c is nil.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	defaultClientOnce.Do(func() { defaultClient = NewHTTPClient(DefaultTimeouts) })
	return defaultClient
}

// idleTransport ends a response whose body stays silent longer than idle.
type idleTransport struct {
	base http.RoundTripper
	idle time.Duration
}

func (t *idleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	b := &idleBody{rc: resp.Body, cancel: cancel, idle: t.idle, url: req.URL.Redacted()}
	b.timer = time.AfterFunc(t.idle, b.expire)
	resp.Body = b
	return resp, nil
}

// idleBody cancels its request when no byte arrives for idle.
type idleBody struct {
	rc     io.ReadCloser
	cancel context.CancelFunc
	idle   time.Duration
	url    string
	timer  *time.Timer

	mu      sync.Mutex
	expired bool
}

func (b *idleBody) expire() {
	b.mu.Lock()
	b.expired = true
	b.mu.Unlock()
	b.cancel()
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		expired := b.expired
		b.mu.Unlock()
		if expired {
			return n, fmt.Errorf("%s: no data for %s: %w", b.url, b.idle, errIdle)
		}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel()
	return err
}

// errIdle is a body read that timed out; a retry may succeed.
var errIdle = timeoutError("idle timeout")

type timeoutError string

func (e timeoutError) Error() string   { return string(e) }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }
