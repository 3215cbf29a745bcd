package matrix

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParamsFile is the file name errors give for a --param value.
const ParamsFile = "--param"

// ScenarioParams resolves a scenario's parameters for a profile from
// KEY=VALUE pairs, each VALUE read as a YAML value ("20", "[a, b]", "5ms"),
// checked as a matrix's params are.
func ScenarioParams(name, profile string, pairs []string) (any, error) {
	node := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &Error{File: ParamsFile, Msg: fmt.Sprintf("%q: want KEY=VALUE", kv)}
		}
		var val yaml.Node
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return nil, &Error{File: ParamsFile, Msg: fmt.Sprintf("%s: %v", k, err)}
		}
		value := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		if len(val.Content) > 0 {
			value = val.Content[0]
		}
		node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: strings.TrimSpace(k)}, value)
	}
	s := Scenario{Name: name}
	if len(pairs) > 0 {
		s.node = node
	}
	if err := s.resolve(ParamsFile, profile); err != nil {
		return nil, err
	}
	return s.Params, nil
}
