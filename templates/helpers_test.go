package templates

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/onramp/onramp"
)

// writeTree writes files (slash paths to contents) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newProject returns a project of the template with one environment per
// type asked, named after its type, with the template's overlay paths.
func newProject(t testing.TB, r *Registry, name, tmpl string, params map[string]string, types ...onramp.EnvironmentType) *onramp.Project {
	t.Helper()
	tm, err := r.FindTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	p := &onramp.Project{Name: name, Template: tmpl, Params: params}
	for _, typ := range types {
		te, ok := tm.Environment(typ)
		if !ok {
			t.Fatalf("template %q has no %s environment", tmpl, typ)
		}
		p.Environments = append(p.Environments, onramp.Environment{
			Name: string(typ), Type: typ, Namespace: onramp.Namespace(name, string(typ)), Path: te.Path,
		})
	}
	return p
}

var allTypes = []onramp.EnvironmentType{onramp.Development, onramp.Staging, onramp.Production}

// builtObject is one object of a kustomize build, as a generic map.
type builtObject map[string]any

// buildOverlay runs kustomize on the overlay at a Flux path of files.
func buildOverlay(t *testing.T, files onramp.Files, fluxPath string) []builtObject {
	t.Helper()
	dir, err := cleanRel(fluxPath)
	if err != nil {
		t.Fatal(err)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	m, err := newTree(files).build(dir)
	if err != nil {
		t.Fatalf("build %s: %v", fluxPath, err)
	}
	var out []builtObject
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, obj)
	}
	return out
}

// field returns the value at a dotted path of an object, or nil.
func (o builtObject) field(keys ...string) any {
	var v any = map[string]any(o)
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// find returns the first object of a kind.
func find(objs []builtObject, kind string) builtObject {
	for _, o := range objs {
		if o["kind"] == kind {
			return o
		}
	}
	return nil
}
