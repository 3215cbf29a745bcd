package apt

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// silentServer accepts connections on 127.0.0.1 and never answers; with
// headers set it sends a response's headers and 10 bytes of its body, then
// nothing more.
func silentServer(t *testing.T, headers bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if headers {
					buf := make([]byte, 4096)
					c.Read(buf)
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"))
				}
				<-done
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestTimeoutsEndSilentServers(t *testing.T) {
	hc := NewHTTPClient(Timeouts{Connect: time.Second, Header: 300 * time.Millisecond, Idle: 300 * time.Millisecond})
	for _, tc := range []struct {
		name    string
		headers bool
		want    string
	}{
		{"no answer", false, "timeout awaiting response headers"},
		{"body stalls", true, "no data for 300ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := silentServer(t, tc.headers) + "/dists/bookworm/InRelease"
			start := time.Now()
			c := &Client{HTTP: hc}
			_, err := c.get(context.Background(), u)
			// Three tries with their backoff take about 2s; a loaded
			// machine gets a generous bound.
			if el := time.Since(start); el > 30*time.Second {
				t.Errorf("get took %s", el)
			}
			if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("get(%s) = %v, want an error naming the URL and %q", u, err, tc.want)
			}

			f := &Fetcher{Dir: t.TempDir(), HTTP: hc, Attempts: 2, Backoff: 10 * time.Millisecond}
			_, err = f.Fetch(context.Background(), u, strings.Repeat("a", 64), 1000, ".deb", "linux-image-x 1")
			if err == nil || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "after 2 attempts") {
				t.Fatalf("Fetch(%s) = %v, want an error naming the URL after 2 attempts", u, err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("Fetch error %v is not a timeout", err)
			}
		})
	}
}

func TestDefaultClientHasTimeouts(t *testing.T) {
	hc := httpClient(nil)
	if hc == http.DefaultClient {
		t.Fatal("httpClient(nil) = http.DefaultClient, which has no timeouts")
	}
	tr := hc.Transport.(*idleTransport)
	if tr.idle != DefaultTimeouts.Idle || tr.base.(*http.Transport).ResponseHeaderTimeout != DefaultTimeouts.Header {
		t.Errorf("default client timeouts = idle %s header %s, want %+v", tr.idle, tr.base.(*http.Transport).ResponseHeaderTimeout, DefaultTimeouts)
	}
}
