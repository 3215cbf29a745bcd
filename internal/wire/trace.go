package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// Bounds of a traced boot.
const (
	// DefaultTraceBufferKB is the trace buffer per CPU when the plan names
	// none: a few seconds of scheduler events on a busy CPU.
	DefaultTraceBufferKB = 2048
	// MinTraceBufferKB and MaxTraceBufferKB bound the plan's buffer: the
	// buffers are kernel memory in a guest of a few hundred MiB.
	MinTraceBufferKB = 64
	MaxTraceBufferKB = 32 << 10
	// MaxTraceText caps a scenario's trace text; the rest is cut off with
	// a note. Compressed, it stays well within MaxPayload.
	MaxTraceText = 32 << 20
)

// TraceBuffer is the per-CPU trace buffer in KiB a plan asks for, within
// bounds.
func (p Plan) TraceBuffer() int {
	kb := p.TraceBufferKB
	if kb <= 0 {
		return DefaultTraceBufferKB
	}
	return min(max(kb, MinTraceBufferKB), MaxTraceBufferKB)
}

// Trace is one scenario's kernel trace as the guest sends it.
type Trace struct {
	TraceInfo
	// Data is the trace in ftrace's text format (tracefs's trace file),
	// gzip-compressed; empty when no trace could be taken (Error says why).
	Data []byte `json:"-"`
}

// TraceInfo describes a trace.
type TraceInfo struct {
	// Scenario is the result name of the traced scenario.
	Scenario string `json:"scenario"`
	// Enabled are the events traced ("sched/sched_switch"); Missing those
	// asked for that the kernel does not have.
	Enabled []string `json:"enabled,omitempty"`
	Missing []string `json:"missing,omitempty"`
	// Bytes is the size of the text before compression, Events its event
	// lines (comment lines not counted).
	Bytes  int64 `json:"bytes"`
	Events int64 `json:"events"`
	// Truncated says the text was cut at MaxTraceText.
	Truncated bool `json:"truncated,omitempty"`
	// BufferKB is the per-CPU buffer the trace was taken with.
	BufferKB int `json:"buffer_kb,omitempty"`
	// Error is why there is no trace, or why it is incomplete.
	Error string `json:"error,omitempty"`
}

// EncodeTrace is a Trace frame's payload: the length of the info (4 bytes,
// big-endian), the info (JSON), then the compressed text.
func EncodeTrace(t Trace) ([]byte, error) {
	info, err := json.Marshal(t.TraceInfo)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", t.Scenario, err)
	}
	b := make([]byte, 4, 4+len(info)+len(t.Data))
	binary.BigEndian.PutUint32(b, uint32(len(info)))
	b = append(b, info...)
	return append(b, t.Data...), nil
}

// DecodeTrace reads a Trace frame's payload; the Data it returns shares p.
func DecodeTrace(p []byte) (Trace, error) {
	if len(p) < 4 {
		return Trace{}, fmt.Errorf("%w: trace: %d bytes", ErrCorrupt, len(p))
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return Trace{}, fmt.Errorf("%w: trace: info of %d bytes in a payload of %d", ErrCorrupt, n, len(p))
	}
	var t Trace
	if err := json.Unmarshal(p[4:4+n], &t.TraceInfo); err != nil {
		return Trace{}, fmt.Errorf("%w: trace: %v", ErrCorrupt, err)
	}
	if t.Scenario == "" {
		return Trace{}, fmt.Errorf("%w: trace without a scenario", ErrCorrupt)
	}
	t.Data = p[4+n:]
	return t, nil
}
