package wire

import (
	"bytes"
	"errors"
	"io"
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
