package templates

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// spec is template.yaml as written, with the line of every entry and field
// so that problems found later can point at them.
type spec struct {
	Name         string      `yaml:"name"`
	Description  string      `yaml:"description"`
	Parameters   []paramSpec `yaml:"parameters"`
	Environments []envSpec   `yaml:"environments"`
	Files        []fileSpec  `yaml:"files"`
	pos
}

type paramSpec struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Default     string `yaml:"default"`
	Required    bool   `yaml:"required"`
	Pattern     string `yaml:"pattern"`
	Description string `yaml:"description"`
	pos
}

type envSpec struct {
	Type   string      `yaml:"type"`
	Path   string      `yaml:"path"`
	Policy *policySpec `yaml:"policy"`
	pos
}

type policySpec struct {
	Mode                   string `yaml:"mode"`
	Approvals              *int   `yaml:"approvals"`
	RollbackSkipsApprovals *bool  `yaml:"rollback_skips_approvals"`
	pos
}

type fileSpec struct {
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	Verbatim bool   `yaml:"verbatim"`
	pos
}

// pos is where a mapping starts and where each of its fields' values is.
type pos struct {
	line  int
	lines map[string]int
}

// at returns the line of a field, or of the mapping when the field is absent.
func (p pos) at(field string) int {
	if l, ok := p.lines[field]; ok {
		return l
	}
	return p.line
}

// lineError is a problem at a line of template.yaml.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// UnmarshalYAML implements yaml.Unmarshaler, refusing unknown fields.
func (s *spec) UnmarshalYAML(n *yaml.Node) error {
	type plain spec
	return decodeMapping(n, (*plain)(s), &s.pos, "name", "description", "parameters", "environments", "files")
}

// UnmarshalYAML implements yaml.Unmarshaler, refusing unknown fields.
func (p *paramSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain paramSpec
	return decodeMapping(n, (*plain)(p), &p.pos, "name", "type", "default", "required", "pattern", "description")
}

// UnmarshalYAML implements yaml.Unmarshaler, refusing unknown fields.
func (e *envSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain envSpec
	return decodeMapping(n, (*plain)(e), &e.pos, "type", "path", "policy")
}

// UnmarshalYAML implements yaml.Unmarshaler, refusing unknown fields.
func (p *policySpec) UnmarshalYAML(n *yaml.Node) error {
	type plain policySpec
	return decodeMapping(n, (*plain)(p), &p.pos, "mode", "approvals", "rollback_skips_approvals")
}

// UnmarshalYAML implements yaml.Unmarshaler, refusing unknown fields.
func (f *fileSpec) UnmarshalYAML(n *yaml.Node) error {
	type plain fileSpec
	return decodeMapping(n, (*plain)(f), &f.pos, "source", "target", "verbatim")
}

// decodeMapping records the lines of n's fields in p, refuses fields not in
// known (a typo would otherwise be silently ignored) and decodes n into out.
func decodeMapping(n *yaml.Node, out any, p *pos, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return &lineError{n.Line, fmt.Sprintf("expected a mapping with fields %s, found %s", strings.Join(known, ", "), describe(n))}
	}
	p.line, p.lines = n.Line, make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			return &lineError{k.Line, fmt.Sprintf("unknown field %q; known fields are %s", k.Value, strings.Join(known, ", "))}
		}
		p.lines[k.Value] = n.Content[i+1].Line
	}
	return n.Decode(out)
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "something else"
	}
}

// parseSpec reads template.yaml. Its errors are *lineError so that the
// caller can name the file.
func parseSpec(data []byte) (*spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlLineError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &lineError{1, "template.yaml is empty"}
	}
	var s spec
	if err := doc.Content[0].Decode(&s); err != nil {
		return nil, yamlLineError(err)
	}
	return &s, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlLineError turns the YAML library's "yaml: line 3: ..." messages into
// a *lineError; the library offers the line only inside its message.
func yamlLineError(err error) error {
	if le, ok := err.(*lineError); ok {
		return le
	}
	msg := err.Error()
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return &lineError{1, strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	return &lineError{line, m[2]}
}
