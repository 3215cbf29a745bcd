package kernels

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kvet/kvet/kernels/apt"
)

// A mirror on 127.0.0.1 that accepts connections and never answers ends
// resolution with an error naming the URL, within the configured timeout
// and its retries, as an unreachable archive (an infrastructure failure).
func TestResolveSilentMirror(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the test ends
		}
	}()
	mirror := "http://" + ln.Addr().String() + "/debian"
	r := &Resolver{
		CacheDir: t.TempDir(), SourcesDir: t.TempDir(),
		Archive: Archive{Mirror: mirror, Suite: "bookworm"},
		HTTP:    apt.NewHTTPClient(apt.Timeouts{Header: 300 * time.Millisecond}),
	}
	start := time.Now()
	_, err = r.Resolve(context.Background(), Spec{Name: "k", Package: "linux-image-cloud-amd64"})
	took := time.Since(start)
	var ue *apt.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), mirror+"/dists/bookworm/InRelease") || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("Resolve(silent mirror) = %v, want an UnreachableError naming the InRelease URL and the timeout", err)
	}
	// Three tries of 300ms with their backoff; generous for a loaded host.
	if took > 30*time.Second {
		t.Errorf("Resolve(silent mirror) took %v", took)
	}
	t.Logf("Resolve(silent mirror) after %v: %v", took.Round(time.Millisecond), err)
}
