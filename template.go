package onramp

import (
	"fmt"
	"regexp"
	"sort"
	"sync"
)

// Template is a directory tree that a project is rendered from.
type Template struct {
	Name         string                `json:"name"`
	Description  string                `json:"description"`
	Parameters   []Parameter           `json:"parameters"`
	Environments []TemplateEnvironment `json:"environments"`
}

// Parameter is a value a template asks for.
type Parameter struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // string, int or bool
	Default     string `json:"default,omitempty"`
	Required    bool   `json:"required"`
	Pattern     string `json:"pattern,omitempty"`
	Description string `json:"description,omitempty"`
}

// TemplateEnvironment is an environment type a template supports and the
// overlay path Flux builds for it, relative to the repository root.
type TemplateEnvironment struct {
	Type EnvironmentType `json:"type"`
	Path string          `json:"path"`
	// Policy overrides DefaultPolicy(Type) for the template's projects.
	Policy *PolicySpec `json:"policy,omitempty"`
}

// Environment returns the template's declaration for an environment type.
func (t *Template) Environment(typ EnvironmentType) (TemplateEnvironment, bool) {
	for _, e := range t.Environments {
		if e.Type == typ {
			return e, true
		}
	}
	return TemplateEnvironment{}, false
}

var intPattern = regexp.MustCompile(`^-?[0-9]+$`)

// ResolveParams checks params against the template's declared parameters and
// returns them with defaults filled in.
func (t *Template) ResolveParams(params map[string]string) (map[string]string, error) {
	declared := map[string]Parameter{}
	for _, p := range t.Parameters {
		declared[p.Name] = p
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := declared[k]; !ok {
			return nil, FieldErrorf("params."+k, "template %q has no parameter %q; it takes: %s", t.Name, k, t.parameterNames())
		}
	}
	out := map[string]string{}
	for _, p := range t.Parameters {
		v, ok := params[p.Name]
		if !ok {
			if p.Required && p.Default == "" {
				return nil, FieldErrorf("params."+p.Name, "parameter %q is required: %s", p.Name, p.Description)
			}
			v = p.Default
		}
		if err := p.check(v); err != nil {
			return nil, err
		}
		out[p.Name] = v
	}
	return out, nil
}

func (p Parameter) check(v string) error {
	field := "params." + p.Name
	switch p.Type {
	case "int":
		if !intPattern.MatchString(v) {
			return FieldErrorf(field, "parameter %q must be a whole number, not %q", p.Name, v)
		}
	case "bool":
		if v != "true" && v != "false" {
			return FieldErrorf(field, "parameter %q must be true or false, not %q", p.Name, v)
		}
	}
	if p.Pattern != "" {
		re, err := compiled(p.Pattern)
		if err != nil {
			return fmt.Errorf("template parameter %q: bad pattern: %w", p.Name, err)
		}
		if !re.MatchString(v) {
			return FieldErrorf(field, "parameter %q = %q does not match %s", p.Name, v, p.Pattern)
		}
	}
	return nil
}

// patterns holds the parameter patterns compiled so far: a project's
// parameters are checked at its create and at each render, and compiling
// costs more than the rest of the render's checks. Patterns come only from
// loaded templates, so there are few.
var patterns sync.Map // pattern → *regexp.Regexp

func compiled(pattern string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	patterns.Store(pattern, re)
	return re, nil
}

func (t *Template) parameterNames() string {
	if len(t.Parameters) == 0 {
		return "no parameters"
	}
	s := ""
	for i, p := range t.Parameters {
		if i > 0 {
			s += ", "
		}
		s += p.Name
	}
	return s
}
