package templates

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/onramp/onramp"
)

var (
	templateName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// Parameter names are Go identifiers so that {{ .Params.name }} works.
	paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// template validates the spec's name, parameters and environments and
// returns them as the domain's Template; problems go to ps.
func (s *spec) template(ps *problems) *onramp.Template {
	t := &onramp.Template{Name: s.Name, Description: strings.TrimSpace(s.Description)}
	switch {
	case s.Name == "":
		ps.add(s.line, "name is required")
	case len(s.Name) > 63 || !templateName.MatchString(s.Name):
		ps.add(s.at("name"), "name %q must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", s.Name)
	}
	seen := map[string]int{}
	for _, p := range s.Parameters {
		if prev, dup := seen[p.Name]; dup {
			ps.add(p.at("name"), "parameter %q is declared twice (first at line %d)", p.Name, prev)
			continue
		}
		seen[p.Name] = p.at("name")
		if param, ok := p.validate(ps); ok {
			t.Parameters = append(t.Parameters, param)
		}
	}
	t.Environments = s.environments(ps)
	if len(s.Files) == 0 {
		ps.add(s.at("files"), "files is required: list what the template renders, e.g. - {source: files/, target: ./}")
	}
	return t
}

// validate checks one parameter, including that the value used when a
// project does not give one is valid: a bad default would otherwise only
// show up when a project is created.
func (p *paramSpec) validate(ps *problems) (onramp.Parameter, bool) {
	param := onramp.Parameter{Name: p.Name, Type: p.Type, Default: p.Default, Required: p.Required,
		Pattern: p.Pattern, Description: strings.TrimSpace(p.Description)}
	if param.Type == "" {
		param.Type = "string"
	}
	n := len(ps.errs)
	if !paramName.MatchString(p.Name) {
		ps.add(p.at("name"), "parameter name %q must be letters, digits and '_', not starting with a digit, so that {{ .Params.%s }} works", p.Name, p.Name)
	}
	if param.Type != "string" && param.Type != "int" && param.Type != "bool" {
		ps.add(p.at("type"), "parameter %q: type %q is not one of string, int, bool", p.Name, p.Type)
	}
	if p.Pattern != "" {
		if _, err := regexp.Compile(p.Pattern); err != nil {
			ps.add(p.at("pattern"), "parameter %q: pattern %q does not compile: %v", p.Name, p.Pattern, err)
		}
	}
	if len(ps.errs) > n {
		return param, false
	}
	if p.Default != "" || !p.Required {
		one := &onramp.Template{Name: "check", Parameters: []onramp.Parameter{param}}
		if _, err := one.ResolveParams(map[string]string{p.Name: p.Default}); err != nil {
			hint := ""
			if p.Default == "" {
				hint = " (a parameter that is not required needs a valid default)"
			}
			ps.add(p.at("default"), "parameter %q: default %q is not valid: %s%s", p.Name, p.Default, onramp.ErrorMessage(err), hint)
			return param, false
		}
	}
	return param, true
}

// environments checks the environment types and normalises their overlay
// paths to the form a Flux Kustomization's spec.path takes.
func (s *spec) environments(ps *problems) []onramp.TemplateEnvironment {
	if len(s.Environments) == 0 {
		ps.add(s.at("environments"), "environments is required: list at least one of development, staging, production with its overlay path")
	}
	var out []onramp.TemplateEnvironment
	seen := map[onramp.EnvironmentType]int{}
	for _, e := range s.Environments {
		typ := onramp.EnvironmentType(e.Type)
		if !typ.Valid() {
			ps.add(e.at("type"), "environment type %q is not one of development, staging, production", e.Type)
			continue
		}
		if prev, dup := seen[typ]; dup {
			ps.add(e.at("type"), "environment type %q is declared twice (first at line %d)", e.Type, prev)
			continue
		}
		seen[typ] = e.at("type")
		dir, err := cleanRel(e.Path)
		if err != nil {
			ps.add(e.at("path"), "environment %q: path %s", e.Type, err)
			continue
		}
		te := onramp.TemplateEnvironment{Type: typ, Path: fluxPath(dir)}
		if p := e.Policy; p != nil {
			te.Policy = &onramp.PolicySpec{Mode: onramp.PolicyMode(p.Mode), Approvals: p.Approvals, RollbackSkipsApprovals: p.RollbackSkipsApprovals}
			if err := te.Policy.Apply(onramp.DefaultPolicy(typ)).Validate("policy"); err != nil {
				ps.add(e.at("policy"), "environment %q: %s", e.Type, onramp.ErrorMessage(err))
				continue
			}
		}
		out = append(out, te)
	}
	return out
}

// cleanRel cleans a slash-separated path relative to a root ("./a/b/" is
// "a/b", "./" is ".") and refuses what is not inside the root.
func cleanRel(p string) (string, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return "", fmt.Errorf("is required")
	case strings.Contains(p, `\`):
		return "", fmt.Errorf("%q must use '/' as separator", p)
	case path.IsAbs(p):
		return "", fmt.Errorf("%q must be relative to the repository root, not absolute", p)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q leaves the repository root", p)
	}
	return c, nil
}

// fluxPath writes a clean relative directory the way a Flux Kustomization's
// spec.path takes it: "./deploy/overlays/development", "./" for the root.
func fluxPath(dir string) string {
	if dir == "." {
		return "./"
	}
	return "./" + dir
}
