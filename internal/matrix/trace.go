package matrix

import "fmt"

// When a run traces (the matrix's trace: and kvet run --trace).
const (
	TraceOff      = "off"
	TraceAlways   = "always"
	TraceOnChange = "on-change"
)

// CheckTrace accepts "" (off), off, always and on-change.
func CheckTrace(s string) error {
	switch s {
	case "", TraceOff, TraceAlways, TraceOnChange:
		return nil
	}
	return fmt.Errorf("trace: %q (want off, always or on-change)", s)
}
