package results

import (
	"slices"
	"strings"
	"testing"
)

func TestParseFailOn(t *testing.T) {
	tests := []struct {
		in   string
		want []Verdict
		bad  string // part of the error; "" = valid
	}{
		{"regression", []Verdict{Regression}, ""},
		{"regression, improvement", []Verdict{Regression, Improvement}, ""},
		{" not-comparable ,underpowered", []Verdict{NotComparable, Underpowered}, ""},
		{"none", nil, ""},
		{"regresion", nil, `"regresion"`},
		{"regression,", nil, `""`},
		{"", nil, `""`},
		{"regression,none", nil, `"none"`},
		{"Regression", nil, `"Regression"`},
	}
	for _, tt := range tests {
		got, err := ParseFailOn(tt.in)
		if tt.bad == "" {
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseFailOn(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.bad) || !strings.Contains(err.Error(), "regression") {
			t.Errorf("ParseFailOn(%q) = %v, %v; want an error naming %s and the known verdicts", tt.in, got, err, tt.bad)
		}
	}
}
