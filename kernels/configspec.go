package kernels

import (
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// ConfigSpec is a kernel entry's config:. With vmlinuz: it is the path of
// the kernel's config. With source: it is where the build starts: a config
// file, a make target (defconfig, tinyconfig, ...), or, written
// {from: NAME}, the config of another kernel of the matrix (listed before
// this one).
type ConfigSpec struct {
	Value string // a path or a make target
	From  string // a kernel name
}

// IsZero says whether no config is given (yaml's omitempty asks it).
func (c ConfigSpec) IsZero() bool { return c.Value == "" && c.From == "" }

func (c ConfigSpec) String() string {
	if c.From != "" {
		return "from " + c.From
	}
	return c.Value
}

// UnmarshalYAML reads "FILE-OR-TARGET" or {from: NAME}.
func (c *ConfigSpec) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*c = ConfigSpec{Value: n.Value}
		return nil
	case yaml.MappingNode:
		var m struct {
			From string `yaml:"from"`
		}
		if len(n.Content) != 2 || n.Content[0].Value != "from" {
			return fmt.Errorf("line %d: config: want a file, a make target or {from: KERNEL}", n.Line)
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		if m.From == "" {
			return fmt.Errorf("line %d: config: from: names no kernel", n.Line)
		}
		*c = ConfigSpec{From: m.From}
		return nil
	}
	return fmt.Errorf("line %d: config: want a file, a make target or {from: KERNEL}", n.Line)
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (c ConfigSpec) MarshalYAML() (any, error) {
	if c.From != "" {
		return map[string]string{"from": c.From}, nil
	}
	return c.Value, nil
}

// MarshalJSON writes a string, or {"from": NAME}.
func (c ConfigSpec) MarshalJSON() ([]byte, error) {
	v, _ := c.MarshalYAML()
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *ConfigSpec) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = ConfigSpec{Value: s}
		return nil
	}
	var m struct {
		From string `json:"from"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = ConfigSpec{From: m.From}
	return nil
}
