package matrix

import (
	"strings"
	"testing"
)

func TestLabels(t *testing.T) {
	const head = "kernels:\n  - name: a\n    package: p\nscenarios:\n"
	tests := []struct {
		name, scenarios, err string
		want                 []string // result names
	}{
		{"twice without labels", "  - timer\n  - timer\n", "m.yaml:6: scenario timer: \"timer\" is already listed on line 5", nil},
		{"twice with one label", "  - timer\n  - {name: timer, label: timer-100us}\n", "", []string{"timer", "timer-100us"}},
		{"same label twice", "  - {name: timer, label: x}\n  - {name: pipe, label: x}\n", "m.yaml:6: scenario pipe: \"x\" is already listed on line 5", nil},
		{"label is another scenario", "  - {name: timer, label: pipe}\n", "label \"pipe\" is another scenario's name", nil},
		{"label with a dot", "  - {name: timer, label: a.b}\n", "label \"a.b\": use letters", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("m.yaml", []byte(head+tt.scenarios))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse() = %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			var got []string
			for _, s := range m.Scenarios {
				got = append(got, s.ResultName())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("result names = %v, want %v", got, tt.want)
			}
		})
	}
}

// An exec program is found relative to the matrix file's folder, and a
// mistake names the matrix line.
func TestExecProgramRelativeToMatrix(t *testing.T) {
	const text = "kernels:\n  - name: a\n    package: p\nscenarios:\n  - name: exec\n    params: {program: nosuch/tool}\n"
	_, err := Parse("/some/dir/m.yaml", []byte(text))
	if err == nil || !strings.Contains(err.Error(), "/some/dir/m.yaml:5") || !strings.Contains(err.Error(), "/some/dir/nosuch/tool") {
		t.Errorf("Parse() = %v, want an error at /some/dir/m.yaml:5 naming /some/dir/nosuch/tool", err)
	}
}
