package templates

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestRenderOnlyDeclaredFiles(t *testing.T) {
	spec := `name: mapped
environments:
  - type: development
    path: deploy/dev
files:
  - source: overlay/
    target: deploy/dev/
  - source: docs/README.md
    target: README.md
  - source: docs/guide.md
    target: docs/
  - source: ci/workflow.yml
    target: .ci/workflow.yml
    verbatim: true
`
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"mapped/template.yaml":               spec,
		"mapped/overlay/kustomization.yaml":  "resources: [cm.yaml]\n",
		"mapped/overlay/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Project }}\n",
		"mapped/docs/README.md":              "# {{ .Project }}\n",
		"mapped/docs/guide.md":               "guide for {{ .Project }}\n",
		"mapped/docs/unused.md":              "not declared {{ .Nothing }}\n",
		"mapped/ci/workflow.yml":             "run: echo ${{ secrets.TOKEN }}\n",
		"mapped/files/deploy/dev/extra.yaml": "not declared\n",
		"mapped/notes.txt":                   "not declared\n",
	})
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.Render(&onramp.Project{Name: "shop", Template: "mapped"})
	if err != nil {
		t.Fatalf("Render = %v", err)
	}
	got := slices.Sorted(maps.Keys(files))
	want := []string{".ci/workflow.yml", "README.md", "deploy/dev/cm.yaml", "deploy/dev/kustomization.yaml", "docs/guide.md"}
	if !slices.Equal(got, want) {
		t.Fatalf("render(%q) files = %q; want %q", "mapped", got, want)
	}
	contents := []struct {
		name string
		want string
	}{
		{"README.md", "# shop\n"},
		{"docs/guide.md", "guide for shop\n"},
		{".ci/workflow.yml", "run: echo ${{ secrets.TOKEN }}\n"},
	}
	for _, c := range contents {
		if got := string(files[c.name]); got != c.want {
			t.Errorf("render(%q)[%q] = %q; want %q", "mapped", c.name, got, c.want)
		}
	}
}

func TestRenderParams(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params map[string]string
		file   string
		want   string
	}{
		{"default port", nil, "deploy/base/deployment.yaml", "containerPort: 8080\n"},
		{"port given", map[string]string{"port": "9090"}, "deploy/base/deployment.yaml", "containerPort: 9090\n"},
		{"image is quoted", map[string]string{"image": "registry.local/shop:v1"}, "deploy/base/deployment.yaml", `image: "registry.local/shop:v1"`},
		{"project name in README", nil, "README.md", "# shop\n"},
		{"replicas in production", map[string]string{"replicas": "7"}, "deploy/overlays/production/kustomization.yaml", "count: 7\n"},
	}
	for _, tt := range tests {
		files, err := r.Render(&onramp.Project{Name: "shop", Template: "web-service", Params: tt.params})
		if err != nil {
			t.Fatalf("%s: Render = %v", tt.name, err)
		}
		if got := string(files[tt.file]); !strings.Contains(got, tt.want) {
			t.Errorf("%s: render(%q)[%q] = %q; want it to contain %q", tt.name, "web-service", tt.file, got, tt.want)
		}
	}
}

func TestWorkerCommandIsOptional(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		command *string
		want    bool
	}{
		{"default command", nil, true},
		{"image entrypoint", new(""), false},
	} {
		params := map[string]string{}
		if tt.command != nil {
			params["command"] = *tt.command
		}
		files, err := r.Render(&onramp.Project{Name: "jobs", Template: "worker", Params: params})
		if err != nil {
			t.Fatalf("%s: Render = %v", tt.name, err)
		}
		if got := strings.Contains(string(files["k8s/base/deployment.yaml"]), "command:"); got != tt.want {
			t.Errorf("%s: deployment has a command = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestResolveParams(t *testing.T) {
	root := t.TempDir()
	spec := strings.Replace(goodSpec, "name: bad", "name: needs", 1)
	spec = strings.Replace(spec, "environments:", "  - name: token\n    required: true\nenvironments:", 1)
	writeTree(t, root, withPrefix("needs/", goodFiles(), "template.yaml", spec))
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tmpl   string
		params map[string]string
		want   string // the error's field; "" for none
	}{
		{"unknown parameter", "web-service", map[string]string{"nope": "1"}, "params.nope"},
		{"int parameter not a number", "web-service", map[string]string{"port": "http"}, "params.port"},
		{"pattern not matched", "web-service", map[string]string{"port": "70000"}, "params.port"},
		{"missing required parameter", "needs", map[string]string{"greeting": "hi"}, "params.token"},
		{"required parameter given", "needs", map[string]string{"token": "s3cret"}, ""},
	}
	for _, tt := range tests {
		tm, err := r.FindTemplate(tt.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tm.ResolveParams(tt.params)
		if got := onramp.ErrorField(err); got != tt.want {
			t.Errorf("%s: ResolveParams(%v) field = %q (%v); want %q", tt.name, tt.params, got, err, tt.want)
		}
		if tt.want != "" && onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("%s: ResolveParams(%v) code = %q; want %q", tt.name, tt.params, onramp.ErrorCode(err), onramp.EINVALID)
		}
		// Render resolves again, so bad input cannot reach the files.
		_, err = r.Render(&onramp.Project{Name: "shop", Template: tt.tmpl, Params: tt.params})
		if got := onramp.ErrorField(err); got != tt.want {
			t.Errorf("%s: Render(params %v) field = %q (%v); want %q", tt.name, tt.params, got, err, tt.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	// A missing key on a branch the defaults do not take loads, and fails
	// at render naming the file.
	spec := strings.Replace(goodSpec, "environments:", "  - name: tls\n    type: bool\n    default: \"false\"\nenvironments:", 1)
	files := goodFiles()
	files["files/deploy/overlays/development/configmap.yaml"] += `{{ if eq .Params.tls "true" }}  cert: {{ .Params.nope }}{{ end }}`
	root := t.TempDir()
	writeTree(t, root, withPrefix("branchy/", files, "template.yaml", strings.Replace(spec, "name: bad", "name: branchy", 1)))
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    *onramp.Project
		code string
		want string
	}{
		{"missing key", &onramp.Project{Name: "shop", Template: "branchy", Params: map[string]string{"tls": "true"}},
			onramp.EINVALID, `template "branchy" cannot be rendered: render deploy/overlays/development/configmap.yaml: template: ` + root + `/branchy/files/deploy/overlays/development/configmap.yaml:7:`},
		{"missing key names it", &onramp.Project{Name: "shop", Template: "branchy", Params: map[string]string{"tls": "true"}},
			onramp.EINVALID, `map has no entry for key "nope"`},
		{"unknown template", &onramp.Project{Name: "shop", Template: "nope"},
			onramp.ENOTFOUND, `template "nope" does not exist; available templates: branchy, web-service, worker`},
	}
	for _, tt := range tests {
		_, err := r.Render(tt.p)
		if got := onramp.ErrorCode(err); got != tt.code {
			t.Errorf("%s: Render code = %q (%v); want %q", tt.name, got, err, tt.code)
		}
		if got := onramp.ErrorMessage(err); !strings.Contains(got, tt.want) {
			t.Errorf("%s: Render = %q; want it to contain %q", tt.name, got, tt.want)
		}
	}
}
