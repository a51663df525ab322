package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/onramp/onramp"
)

// sampleProject is the project a template is rendered and preflighted for
// when it is loaded, so that its mistakes show at start-up rather than when
// a user creates a project.
const sampleProject = "example"

// loadTemplate reads, validates and checks the template in fsys.
func loadTemplate(fsys fs.FS, origin string) (*entry, error) {
	shown := origin + "/template.yaml"
	b, err := fs.ReadFile(fsys, "template.yaml")
	if err != nil {
		return nil, &LoadError{File: shown, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	s, err := parseSpec(b)
	if err != nil {
		var le *lineError
		if errors.As(err, &le) {
			return nil, &LoadError{File: shown, Line: le.line, Msg: le.msg}
		}
		return nil, fmt.Errorf("%s: %w", shown, err)
	}
	ps := &problems{file: shown}
	e := &entry{t: s.template(ps), origin: origin, line: s.at("name")}
	e.files = mapFiles(fsys, origin, s.Files, ps)
	if ps.empty() {
		e.checkOverlays(s, ps)
	}
	if ps.empty() {
		e.selfCheck(s, ps)
	}
	if !ps.empty() {
		return nil, ps.err()
	}
	return e, nil
}

// checkOverlays checks that each declared overlay path is a directory with
// a kustomization among the files the template renders. Targets are not
// templated, so this needs no rendering. It runs only on a template without
// problems, so e.t.Environments[i] comes from s.Environments[i].
func (e *entry) checkOverlays(s *spec, ps *problems) {
	targets := make(onramp.Files, len(e.files))
	for _, f := range e.files {
		targets[f.target] = nil
	}
	t := newTree(targets)
	for i, env := range e.t.Environments {
		dir, _ := cleanRel(env.Path)
		if msg := t.locate(dir); msg != "" {
			ps.add(s.Environments[i].at("path"), "environment %q: %s", env.Type, msg)
		}
	}
}

// selfCheck renders the template for a sample project with default
// parameters and preflights every declared environment, after checkOverlays.
func (e *entry) selfCheck(s *spec, ps *problems) {
	files, err := e.render(data{Project: sampleProject, Params: sampleParams(e.t)})
	if err != nil {
		// The template package's own message starts with the file and line.
		msg := err.Error()
		if inner := errors.Unwrap(err); inner != nil {
			msg = strings.TrimPrefix(inner.Error(), "template: ")
		}
		ps.addErr(&LoadError{Msg: msg})
		return
	}
	t := newTree(files)
	for i, env := range e.t.Environments {
		ns := onramp.Namespace(sampleProject, string(env.Type))
		msg := t.check(sampleProject, onramp.Environment{Name: string(env.Type), Type: env.Type, Namespace: ns, Path: env.Path})
		if msg != "" {
			ps.add(s.Environments[i].at("path"), "environment %q, rendered for a sample project %q with default parameters: %s", env.Type, sampleProject, msg)
		}
	}
}

// sampleParams are the defaults, and a plain value of the right type for a
// required parameter without one.
func sampleParams(t *onramp.Template) map[string]string {
	out := make(map[string]string, len(t.Parameters))
	for _, p := range t.Parameters {
		switch {
		case p.Default != "" || !p.Required:
			out[p.Name] = p.Default
		case p.Type == "int":
			out[p.Name] = "1"
		case p.Type == "bool":
			out[p.Name] = "false"
		default:
			out[p.Name] = sampleProject
		}
	}
	return out
}
