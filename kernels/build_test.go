package kernels

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestReadFragment(t *testing.T) {
	file := writeTemp(t, "rt.config", []byte("# the realtime build\nCONFIG_PREEMPT_RT=y\n# CONFIG_PREEMPT_VOLUNTARY is not set\n\nCONFIG_HZ=1000\nCONFIG_CMDLINE=\"a b\"\n"))
	got, err := readFragment("k", file)
	if err != nil {
		t.Fatal(err)
	}
	want := []fragLine{
		{cfgLine{"CONFIG_PREEMPT_RT", "y"}, file, 2},
		{cfgLine{"CONFIG_PREEMPT_VOLUNTARY", "n"}, file, 3},
		{cfgLine{"CONFIG_HZ", "1000"}, file, 5},
		{cfgLine{"CONFIG_CMDLINE", `"a b"`}, file, 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readFragment(file) = %+v, want %+v", got, want)
	}
	got, err = readFragment("k", "CONFIG_PREEMPT_RT=y")
	if err != nil || len(got) != 1 || got[0].file != "inline" || got[0].val != "y" {
		t.Errorf("readFragment(inline) = %+v, %v", got, err)
	}
	for _, bad := range []string{"CONFIG_PREEMPT_RT", "CONFIG_X=y\nPREEMPT=y", "CONFIG_BAD NAME=y", "# CONFIG_X Y is not set"} {
		_, err := readFragment("k", bad)
		var fe *FragmentError
		if !errors.As(err, &fe) || fe.File != "inline" || fe.Line < 1 || !strings.Contains(err.Error(), "kernel k: config fragment inline:") {
			t.Errorf("readFragment(%q) error = %v, want a FragmentError naming the line", bad, err)
		}
	}
	if _, err := readFragment("k", "no/such/file"); err == nil || !strings.Contains(err.Error(), "no/such/file") {
		t.Errorf("readFragment(missing file) error = %v", err)
	}
}

func TestMergeConfig(t *testing.T) {
	cfg := []byte("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\nCONFIG_HZ=250\n# comment\n")
	got := string(mergeConfig(cfg, []cfgLine{{"CONFIG_B", "y"}, {"CONFIG_A", "n"}, {"CONFIG_D", "y"}, {"CONFIG_B", "m"}}))
	want := "CONFIG_C=m\nCONFIG_HZ=250\n# comment\nCONFIG_B=m\n# CONFIG_A is not set\nCONFIG_D=y\n"
	if got != want {
		t.Errorf("mergeConfig() =\n%s\nwant\n%s", got, want)
	}
}

func TestFormatConfigRoundTrip(t *testing.T) {
	in := map[string]string{"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_HZ": "250", "CONFIG_ADDR": "0x1000000", "CONFIG_CMDLINE": `console=ttyS0 "x"`, "CONFIG_NEG": "-1"}
	out, err := ParseConfig(bytes.NewReader(formatConfig(in)))
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("ParseConfig(formatConfig(%v)) = %v, %v", in, out, err)
	}
}

func TestConfigSpecYAML(t *testing.T) {
	var s struct {
		A ConfigSpec `yaml:"a"`
		B ConfigSpec `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: tinyconfig\nb: {from: stable}\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.A != (ConfigSpec{Value: "tinyconfig"}) || s.B != (ConfigSpec{From: "stable"}) {
		t.Errorf("Unmarshal = %+v", s)
	}
	out, err := yaml.Marshal(s)
	if err != nil || string(out) != "a: tinyconfig\nb:\n    from: stable\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
	if err := yaml.Unmarshal([]byte("b: {form: stable}\n"), &s); err == nil {
		t.Errorf("Unmarshal({form: stable}) error = nil, want one")
	}
}
