// Package templates loads project templates, renders them and checks,
// before anything is created, that every environment's overlay exists and
// builds with kustomize. It implements onramp.TemplateService.
package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/onramp/onramp"
)

// builtinFS holds the templates shipped in the binary, one directory each.
//
//go:embed builtin
var builtinFS embed.FS

// Registry holds the loaded templates, which do not change after New. It is
// safe for concurrent use.
type Registry struct {
	entries map[string]*entry
	names   []string // sorted
}

var _ onramp.TemplateService = (*Registry)(nil)

// entry is one loaded template.
type entry struct {
	t      *onramp.Template
	files  []file
	origin string // the template's directory, as shown in errors
	line   int    // line of name: in template.yaml
}

func (e *entry) specFile() string { return e.origin + "/template.yaml" }

// New loads the built-in templates and, when dir is not empty, every
// template directory in dir (ONRAMP_TEMPLATES_DIR). Any invalid template or
// name clash is an error naming the file and line; all of them are reported.
func New(dir string) (*Registry, error) {
	r := &Registry{entries: map[string]*entry{}}
	srcs, err := builtinSources()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		more, err := dirSources(dir)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, more...)
	}
	var errs []error
	for _, s := range srcs {
		if err := r.add(s); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("load templates: %w", errors.Join(errs...))
	}
	return r, nil
}

// source is a template directory and how errors show it.
type source struct {
	fsys   fs.FS
	origin string
}

func builtinSources() ([]source, error) {
	ents, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil, fmt.Errorf("read built-in templates: %w", err)
	}
	var out []source
	for _, d := range ents {
		sub, err := fs.Sub(builtinFS, "builtin/"+d.Name())
		if err != nil {
			return nil, fmt.Errorf("read built-in template %s: %w", d.Name(), err)
		}
		out = append(out, source{fsys: sub, origin: "templates/builtin/" + d.Name()})
	}
	return out, nil
}

// dirSources lists the template directories in dir: every directory not
// starting with "." must hold a template.yaml, so that a misnamed file is
// an error rather than a template silently missing.
func dirSources(dir string) ([]source, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read templates directory: %w", err)
	}
	var out []source
	var errs []error
	for _, d := range ents {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		origin := filepath.Join(dir, d.Name())
		if _, err := os.Stat(filepath.Join(origin, "template.yaml")); err != nil {
			errs = append(errs, &LoadError{File: origin, Msg: "no template.yaml: every directory in the templates directory must be a template"})
			continue
		}
		out = append(out, source{fsys: os.DirFS(origin), origin: origin})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("load templates: %w", errors.Join(errs...))
	}
	return out, nil
}

// add loads one template and refuses a name already taken.
func (r *Registry) add(s source) error {
	e, err := loadTemplate(s.fsys, s.origin)
	if err != nil {
		return err
	}
	if prev, ok := r.entries[e.t.Name]; ok {
		return &LoadError{File: e.specFile(), Line: e.line,
			Msg: fmt.Sprintf("template %q is already defined by %s", e.t.Name, prev.specFile())}
	}
	r.entries[e.t.Name] = e
	i, _ := slices.BinarySearch(r.names, e.t.Name)
	r.names = slices.Insert(r.names, i, e.t.Name)
	return nil
}

// Templates returns every template, sorted by name.
func (r *Registry) Templates() []*onramp.Template {
	out := make([]*onramp.Template, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, clone(r.entries[n].t))
	}
	return out
}

// FindTemplate returns the named template, or an ENOTFOUND error that lists
// the templates there are.
func (r *Registry) FindTemplate(name string) (*onramp.Template, error) {
	e, err := r.entry(name)
	if err != nil {
		return nil, err
	}
	return clone(e.t), nil
}

func (r *Registry) entry(name string) (*entry, error) {
	e, ok := r.entries[name]
	if !ok {
		return nil, onramp.Errorf(onramp.ENOTFOUND, "template %q does not exist; available templates: %s", name, strings.Join(r.names, ", "))
	}
	return e, nil
}

// clone copies a template so that callers cannot change the registry's.
func clone(t *onramp.Template) *onramp.Template {
	c := *t
	c.Parameters = slices.Clone(t.Parameters)
	c.Environments = slices.Clone(t.Environments)
	return &c
}
