package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvet/kvet/internal/atomicfile"
	"github.com/kvet/kvet/internal/wire"
	"github.com/kvet/kvet/results"
)

// The guest protocol, host side: the agent's frames become the boot's
// result and the evidence its outcome is judged by. QEMU's lifecycle is in
// boot.go.

// readFrames reads the guest's frames until done or the end of the stream.
func (b *boot) readFrames(conn net.Conn) {
	r := wire.NewReader(conn)
	bad := func(err error) {
		b.mu.Lock()
		if b.ev.FrameErr == nil {
			b.ev.FrameErr = err
		}
		b.mu.Unlock()
	}
	for {
		f, err := r.Next()
		if err != nil {
			// A stream cut short (QEMU killed, guest gone) is judged by the
			// events; only a malformed frame blames the agent by itself.
			if errors.Is(err, wire.ErrCorrupt) {
				bad(err)
			}
			return
		}
		switch f.Type {
		case wire.TypeHello:
			var h wire.Hello
			if err := json.Unmarshal(f.Payload, &h); err != nil {
				bad(fmt.Errorf("%w: hello: %v", wire.ErrCorrupt, err))
				return
			}
			b.mu.Lock()
			first := !b.ev.Hello
			b.ev.Hello = true
			b.res.Release = h.Release
			if first {
				b.helloAt = time.Now()
			}
			b.mu.Unlock()
			b.log.Debug("guest hello", "release", h.Release, "version", h.Version)
			if err := wire.WriteJSON(conn, wire.TypePlan, b.s.Plan); err != nil {
				bad(fmt.Errorf("send plan: %w", err))
				return
			}
			if first {
				close(b.helloCh)
			}
		case wire.TypeFacts:
			var facts map[string]string
			if err := json.Unmarshal(f.Payload, &facts); err != nil {
				bad(fmt.Errorf("%w: facts: %v", wire.ErrCorrupt, err))
				return
			}
			b.mu.Lock()
			if b.res.Facts == nil {
				b.res.Facts = map[string]string{}
			}
			for k, v := range facts {
				b.res.Facts[k] = v
			}
			b.mu.Unlock()
		case wire.TypeResult:
			var sc results.Scenario
			if err := json.Unmarshal(f.Payload, &sc); err != nil {
				bad(fmt.Errorf("%w: result: %v", wire.ErrCorrupt, err))
				return
			}
			b.mu.Lock()
			b.res.Scenarios = append(b.res.Scenarios, sc)
			if sc.Error != "" {
				b.ev.ScenarioErrors = append(b.ev.ScenarioErrors, sc.Name+": "+sc.Error)
			}
			b.mu.Unlock()
		case wire.TypeTrace:
			tr, err := wire.DecodeTrace(f.Payload)
			if err != nil {
				bad(err)
				return
			}
			tf := b.saveTrace(tr)
			b.mu.Lock()
			b.res.Traces = append(b.res.Traces, tf)
			b.mu.Unlock()
			b.log.Debug("guest trace", "scenario", tr.Scenario, "events", tr.Events, "bytes", tr.Bytes, "file", tf.File, "error", tf.Error)
		case wire.TypeLog:
			b.mu.Lock()
			b.res.Log = append(b.res.Log, strings.TrimRight(string(f.Payload), "\n"))
			b.mu.Unlock()
		case wire.TypeError:
			b.mu.Lock()
			b.ev.AgentErrors = append(b.ev.AgentErrors, string(f.Payload))
			b.mu.Unlock()
		case wire.TypeDone:
			b.mu.Lock()
			b.ev.Done = true
			b.mu.Unlock()
			close(b.doneCh)
			return
		default:
			bad(fmt.Errorf("%w: unexpected %s frame from the guest", wire.ErrCorrupt, f.Type))
			return
		}
	}
}

// saveTrace writes a trace's compressed text where the spec says, and
// returns what the boot records of it.
func (b *boot) saveTrace(tr wire.Trace) results.TraceFile {
	tf := results.TraceFile{Scenario: tr.Scenario, Bytes: tr.Bytes, Events: tr.Events, Enabled: tr.Enabled, Missing: tr.Missing,
		Truncated: tr.Truncated, BufferKB: tr.BufferKB, Error: tr.Error}
	if len(tr.Data) == 0 || b.s.TraceFile == nil || b.s.TraceDir == "" {
		return tf
	}
	rel := b.s.TraceFile(tr.Scenario)
	// Two results of one name (a matrix cannot give them, a guest might):
	// the second trace gets a file of its own.
	b.mu.Lock()
	if b.traceFiles == nil {
		b.traceFiles = map[string]bool{}
	}
	base := rel
	for i := 2; b.traceFiles[rel]; i++ {
		rel = strings.TrimSuffix(base, ".trace.gz") + fmt.Sprintf(".%d.trace.gz", i)
	}
	b.traceFiles[rel] = true
	b.mu.Unlock()
	if err := atomicfile.Write(filepath.Join(b.s.TraceDir, rel), tr.Data); err != nil {
		tf.Error = strings.TrimPrefix(tf.Error+"; ", "; ") + "host: " + err.Error()
		return tf
	}
	tf.File = rel
	return tf
}
