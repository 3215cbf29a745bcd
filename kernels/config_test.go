package kernels

import (
	"maps"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"empty", "", map[string]string{}, ""},
		{
			name: "kinds",
			in: "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n" +
				"CONFIG_VIRTIO_PCI=m\n# CONFIG_PREEMPT_RT is not set\n\n" +
				`CONFIG_LOCALVERSION="-cloud \"x\""` + "\nCONFIG_CMDLINE=\"\"\n  CONFIG_SPACED=y  \n",
			want: map[string]string{
				"CONFIG_HZ_250": "y", "CONFIG_HZ": "250", "CONFIG_VIRTIO_PCI": "m",
				"CONFIG_PREEMPT_RT": "n", "CONFIG_LOCALVERSION": `-cloud "x"`, "CONFIG_CMDLINE": "",
				"CONFIG_SPACED": "y",
			},
		},
		{"comment that is not a setting", "# CONFIG_A is not set because\n# Linux kernel version: 6.12\n", map[string]string{}, ""},
		{"hex", "CONFIG_PHYSICAL_START=0x1000000\n", map[string]string{"CONFIG_PHYSICAL_START": "0x1000000"}, ""},
		{"no CRLF surprises", "CONFIG_A=y\r\n", map[string]string{"CONFIG_A": "y"}, ""},
		{"not a config", "hello world\n", nil, "config line 1"},
		{"bad key", "FOO=y\n", nil, "config line 1"},
		{"bad string", "CONFIG_A=y\nCONFIG_S=\"open\n", nil, "config line 2: CONFIG_S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseConfig(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%q) error = %v", tt.in, err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("ParseConfig(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPreemptionHZ(t *testing.T) {
	tests := []struct {
		name    string
		config  map[string]string
		preempt string
		hz      int
	}{
		{"unknown", nil, "", 0},
		{"none", map[string]string{"CONFIG_PREEMPT_NONE": "y", "CONFIG_HZ": "100"}, "none", 100},
		{"voluntary", map[string]string{"CONFIG_PREEMPT_VOLUNTARY": "y", "CONFIG_HZ": "250"}, "voluntary", 250},
		{"full", map[string]string{"CONFIG_PREEMPT": "y", "CONFIG_HZ": "1000"}, "full", 1000},
		// Debian's 6.1 and 6.12 generic and cloud kernels.
		{"debian", map[string]string{"CONFIG_PREEMPT_VOLUNTARY": "y", "CONFIG_PREEMPT_DYNAMIC": "y", "CONFIG_PREEMPT": "n"}, "dynamic(voluntary)", 0},
		{"dynamic full", map[string]string{"CONFIG_PREEMPT": "y", "CONFIG_PREEMPT_DYNAMIC": "y"}, "dynamic(full)", 0},
		{"lazy", map[string]string{"CONFIG_PREEMPT_LAZY": "y"}, "lazy", 0},
		// PREEMPT_RT selects PREEMPT too.
		{"rt", map[string]string{"CONFIG_PREEMPT_RT": "y", "CONFIG_PREEMPT": "y", "CONFIG_HZ": "250"}, "rt", 250},
		{"bad hz", map[string]string{"CONFIG_HZ": "fast"}, "none", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &Kernel{Config: tt.config}
			if got := k.Preemption(); got != tt.preempt {
				t.Errorf("Preemption(%v) = %q, want %q", tt.config, got, tt.preempt)
			}
			if got := k.HZ(); got != tt.hz {
				t.Errorf("HZ(%v) = %d, want %d", tt.config, got, tt.hz)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n")
	f.Add("CONFIG_S=\"\\\"\n")
	f.Add("# CONFIG_ is not set\n=\n")
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := ParseConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		for k := range cfg {
			if !strings.HasPrefix(k, "CONFIG_") || strings.ContainsAny(k, " \t\n=") {
				t.Errorf("ParseConfig(%q) has key %q", in, k)
			}
		}
	})
}
