// Package wire owns the frames exchanged between the host and the guest agent
// over the virtio-serial results port. A frame is a 12-byte header (magic
// "KV", type, reserved byte, payload length, CRC32 of type and payload) and a
// payload. It holds no logic beyond framing and the payload types.
package wire

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Type says what a frame carries.
type Type uint8

const (
	// TypeHello is the guest's first frame: a Hello (JSON).
	TypeHello Type = 1
	// TypePlan is the host's answer to Hello: a Plan (JSON).
	TypePlan Type = 2
	// TypeFacts carries the kernel facts of the boot: map[string]string (JSON).
	TypeFacts Type = 3
	// TypeResult carries one scenario's results.Scenario (JSON).
	TypeResult Type = 4
	// TypeLog carries one line of agent log text.
	TypeLog Type = 5
	// TypeError carries a fatal agent error (text); Done still follows if it can.
	TypeError Type = 6
	// TypeDone is the last frame of a successful boot (empty payload).
	TypeDone Type = 7
	// TypeTrace carries one scenario's kernel trace: a Trace (see
	// EncodeTrace). Sent before the scenario's Result, only when the plan
	// asks for tracing.
	TypeTrace Type = 8
)

// lastType is the highest type a frame may have.
const lastType = TypeTrace

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypePlan:
		return "plan"
	case TypeFacts:
		return "facts"
	case TypeResult:
		return "result"
	case TypeLog:
		return "log"
	case TypeError:
		return "error"
	case TypeDone:
		return "done"
	case TypeTrace:
		return "trace"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// HeaderSize is the size of a frame header in bytes.
const HeaderSize = 12

// MaxPayload bounds a frame's payload so a corrupt length cannot exhaust memory.
const MaxPayload = 64 << 20

var magic = [2]byte{'K', 'V'}

// ErrCorrupt is wrapped by every error about a malformed frame.
var ErrCorrupt = errors.New("corrupt frame")

// Frame is one message.
type Frame struct {
	Type    Type
	Payload []byte
}

func checksum(t Type, p []byte) uint32 {
	h := crc32.NewIEEE()
	h.Write([]byte{byte(t)})
	h.Write(p)
	return h.Sum32()
}

// Append appends the encoding of f to b.
func Append(b []byte, f Frame) []byte {
	var h [HeaderSize]byte
	h[0], h[1] = magic[0], magic[1]
	h[2] = byte(f.Type)
	binary.BigEndian.PutUint32(h[4:8], uint32(len(f.Payload)))
	binary.BigEndian.PutUint32(h[8:12], checksum(f.Type, f.Payload))
	b = append(b, h[:]...)
	return append(b, f.Payload...)
}

// Write writes one frame with a single Write call.
func Write(w io.Writer, f Frame) error {
	if len(f.Payload) > MaxPayload {
		return fmt.Errorf("frame %s: payload of %d bytes exceeds %d", f.Type, len(f.Payload), MaxPayload)
	}
	_, err := w.Write(Append(nil, f))
	return err
}

// WriteJSON marshals v and writes it as a frame of type t.
func WriteJSON(w io.Writer, t Type, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("frame %s: %w", t, err)
	}
	return Write(w, Frame{Type: t, Payload: p})
}

// Reader reads frames from a stream.
type Reader struct {
	r *bufio.Reader
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next reads the next frame. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF for a truncated frame and an error wrapping ErrCorrupt
// for a bad magic, type, length or checksum.
func (r *Reader) Next() (Frame, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return Frame{}, err
	}
	if h[0] != magic[0] || h[1] != magic[1] {
		return Frame{}, fmt.Errorf("%w: bad magic %q", ErrCorrupt, h[:2])
	}
	t := Type(h[2])
	if t < TypeHello || t > lastType || h[3] != 0 {
		return Frame{}, fmt.Errorf("%w: unknown type %d", ErrCorrupt, h[2])
	}
	n := binary.BigEndian.Uint32(h[4:8])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: length %d exceeds %d", ErrCorrupt, n, MaxPayload)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r.r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	if got, want := checksum(t, p), binary.BigEndian.Uint32(h[8:12]); got != want {
		return Frame{}, fmt.Errorf("%w: %s frame checksum %08x, want %08x", ErrCorrupt, t, got, want)
	}
	return Frame{Type: t, Payload: p}, nil
}

// Hello is the guest agent's greeting.
type Hello struct {
	Version string `json:"version"` // kvet version of the agent
	Release string `json:"release"` // uname -r
	CPUs    int    `json:"cpus"`
}

// Plan tells the guest agent what to run.
type Plan struct {
	Seed      int64             `json:"seed"`
	Profile   string            `json:"profile"`          // "quick" or "full"
	Sysctl    map[string]string `json:"sysctl,omitempty"` // applied before the scenarios
	Scenarios []Invocation      `json:"scenarios"`
	// Files are extra files the host wants in the guest (for the exec scenario);
	// they travel in the image's appended cpio, so only their guest paths appear.
	Timeout int64 `json:"timeout_ns,omitempty"` // per scenario, 0 = none
	// Trace asks for a kernel trace of each scenario (scheduler events, and
	// TCP events for the TCP scenarios), sent home in Trace frames. A traced
	// boot measures under tracing: it is never a measurement boot.
	Trace bool `json:"trace,omitempty"`
	// TraceBufferKB is the trace buffer per CPU in KiB (0: DefaultTraceBufferKB;
	// bounded by MaxTraceBufferKB).
	TraceBufferKB int `json:"trace_buffer_kb,omitempty"`
	// Boot says which boot of the run this is; the exec scenario passes it
	// to its programs (KVET_KERNEL, KVET_BOOT, KVET_ATTEMPT).
	Boot *BootID `json:"boot,omitempty"`
}

// BootID names one boot of a run: the kernel's name in the matrix, the
// boot's index among that kernel's boots (from 0), and the attempt (from 1:
// a boot run again after an infrastructure error, or to confirm a panic or
// hang, has attempt 2 and up).
type BootID struct {
	Kernel  string `json:"kernel"`
	Index   int    `json:"index"`
	Attempt int    `json:"attempt"`
}

// Invocation is one scenario run: its name and its parameters (JSON, already
// validated by the host).
type Invocation struct {
	Name string `json:"name"`
	// Label, when set, names the result instead of Name.
	Label  string          `json:"label,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}
