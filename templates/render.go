package templates

import (
	"bytes"
	"fmt"

	"github.com/onramp/onramp"
)

// data is what a template's files see: {{ .Project }} and {{ .Params.x }}.
// There is no environment: overlays are static, one per environment type.
type data struct {
	Project string
	Params  map[string]string
}

// Render renders the project's template with its parameters. Parameters are
// resolved again, so that unresolved input cannot reach the files.
func (r *Registry) Render(p *onramp.Project) (onramp.Files, error) {
	e, err := r.entry(p.Template)
	if err != nil {
		return nil, err
	}
	params, err := e.t.ResolveParams(p.Params)
	if err != nil {
		return nil, err
	}
	files, err := e.render(data{Project: p.Name, Params: params})
	if err != nil {
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: fmt.Sprintf("template %q cannot be rendered: %v", e.t.Name, err)}
	}
	return files, nil
}

// render executes every file the template declares, and only those.
func (e *entry) render(d data) (onramp.Files, error) {
	out := make(onramp.Files, len(e.files))
	var buf bytes.Buffer
	for _, f := range e.files {
		if f.tmpl == nil {
			out[f.target] = bytes.Clone(f.raw)
			continue
		}
		buf.Reset()
		if err := f.tmpl.Execute(&buf, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", f.target, err)
		}
		out[f.target] = bytes.Clone(buf.Bytes())
	}
	return out, nil
}
