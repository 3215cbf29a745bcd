package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	frames := []Frame{
		{TypeHello, []byte(`{"version":"x"}`)},
		{TypePlan, nil},
		{TypeResult, bytes.Repeat([]byte("r"), 100_000)},
		{TypeDone, []byte{}},
	}
	var buf bytes.Buffer
	for _, f := range frames {
		if err := Write(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&buf)
	for i, want := range frames {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("Next() #%d: %v", i, err)
		}
		if got.Type != want.Type || !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("Next() #%d = %s %d bytes, want %s %d bytes", i, got.Type, len(got.Payload), want.Type, len(want.Payload))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next() at end = %v, want io.EOF", err)
	}
}

func TestCorruption(t *testing.T) {
	good := Append(nil, Frame{TypeLog, []byte("hello")})
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x40; return b }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"bad magic", flip(0), ErrCorrupt},
		{"bad type", flip(2), ErrCorrupt},
		{"bad payload", flip(HeaderSize + 1), ErrCorrupt},
		{"bad crc", flip(9), ErrCorrupt},
		{"huge length", func() []byte { b := bytes.Clone(good); b[4] = 0xff; return b }(), ErrCorrupt},
		{"truncated payload", good[:len(good)-2], io.ErrUnexpectedEOF},
		{"truncated header", good[:5], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.data)).Next()
			if !errors.Is(err, tt.want) {
				t.Errorf("Next() = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add(Append(nil, Frame{TypeDone, nil}))
	f.Add(Append(Append(nil, Frame{TypeHello, []byte("{}")}), Frame{TypeResult, []byte("x")}))
	f.Add([]byte("KV\x07\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		var out []byte
		for {
			fr, err := r.Next()
			if err != nil {
				break
			}
			out = Append(out, fr)
		}
		// Whatever decoded re-encodes to a prefix of the input.
		if !bytes.HasPrefix(data, out) {
			t.Errorf("decoded frames do not re-encode to a prefix of the input")
		}
	})
}

func TestTraceRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte{0x1f, 0x8b, 0, 7}, 5000)
	in := Trace{TraceInfo: TraceInfo{Scenario: "nagle", Enabled: []string{"sched/sched_switch", "tcp/tcp_probe"}, Missing: []string{"tcp/tcp_retransmit_skb"},
		Bytes: 123456, Events: 789, Truncated: true, BufferKB: 2048}, Data: data}
	p, err := EncodeTrace(in)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, Frame{Type: TypeTrace, Payload: p}); err != nil {
		t.Fatal(err)
	}
	f, err := NewReader(&buf).Next()
	if err != nil {
		t.Fatalf("Next() = %v: a trace frame must be read", err)
	}
	if f.Type != TypeTrace || f.Type.String() != "trace" {
		t.Fatalf("frame type %s, want trace", f.Type)
	}
	out, err := DecodeTrace(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Data, data) {
		t.Errorf("data: %d bytes back, want %d", len(out.Data), len(data))
	}
	out.Data, in.Data = nil, nil
	if !reflect.DeepEqual(out, in) {
		t.Errorf("DecodeTrace = %+v, want %+v", out, in)
	}
}

func TestTraceCorrupt(t *testing.T) {
	good, err := EncodeTrace(Trace{TraceInfo: TraceInfo{Scenario: "nagle"}, Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	noName, _ := EncodeTrace(Trace{Data: []byte("x")})
	long := bytes.Clone(good)
	long[0] = 0x7f
	for name, p := range map[string][]byte{"short": good[:3], "info past the end": long, "bad info": append([]byte{0, 0, 0, 1}, '{'), "no scenario": noName} {
		if _, err := DecodeTrace(p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeTrace = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestTraceBufferBounds(t *testing.T) {
	for kb, want := range map[int]int{0: DefaultTraceBufferKB, -5: DefaultTraceBufferKB, 1: MinTraceBufferKB, 4096: 4096, 1 << 30: MaxTraceBufferKB} {
		if got := (Plan{TraceBufferKB: kb}).TraceBuffer(); got != want {
			t.Errorf("TraceBuffer() with %d = %d, want %d", kb, got, want)
		}
	}
}
