package templates

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestBuiltinsLoad(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatalf("New(\"\") = %v", err)
	}
	var names []string
	for _, tm := range r.Templates() {
		names = append(names, tm.Name)
	}
	if want := []string{"web-service", "worker"}; !slices.Equal(names, want) {
		t.Fatalf("Templates() = %q; want %q", names, want)
	}
	tests := []struct {
		name string
		typ  onramp.EnvironmentType
		want string
	}{
		{"web-service", onramp.Development, "./deploy/overlays/development"},
		{"web-service", onramp.Staging, "./deploy/overlays/staging"},
		{"web-service", onramp.Production, "./deploy/overlays/production"},
		{"worker", onramp.Development, "./k8s/envs/development"},
		{"worker", onramp.Production, "./k8s/envs/production"},
	}
	for _, tt := range tests {
		tm, err := r.FindTemplate(tt.name)
		if err != nil {
			t.Fatalf("FindTemplate(%q) = %v", tt.name, err)
		}
		if got, _ := tm.Environment(tt.typ); got.Path != tt.want {
			t.Errorf("FindTemplate(%q).Environment(%s).Path = %q; want %q", tt.name, tt.typ, got.Path, tt.want)
		}
	}
}

func TestFindTemplateNotFound(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.FindTemplate("nope")
	if got := onramp.ErrorCode(err); got != onramp.ENOTFOUND {
		t.Fatalf("FindTemplate(%q) code = %q; want %q", "nope", got, onramp.ENOTFOUND)
	}
	want := `template "nope" does not exist; available templates: web-service, worker`
	if got := onramp.ErrorMessage(err); got != want {
		t.Errorf("FindTemplate(%q) = %q; want %q", "nope", got, want)
	}
}

func TestTemplatesAreCopies(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := r.FindTemplate("web-service")
	tm.Environments[0].Path = "./elsewhere"
	again, _ := r.FindTemplate("web-service")
	if got := again.Environments[0].Path; got == "./elsewhere" {
		t.Errorf("FindTemplate returned the registry's own template: a caller's change stuck")
	}
}

// goodSpec is a valid template.yaml; the load error cases below are
// variations of it, so their line numbers are easy to read.
const goodSpec = `name: bad
description: a test template
parameters:
  - name: greeting
    type: string
    default: hello
environments:
  - type: development
    path: deploy/overlays/development
files:
  - source: files/
    target: ./
`

// goodFiles are the files of goodSpec's template.
func goodFiles() map[string]string {
	return map[string]string{
		"files/deploy/overlays/development/kustomization.yaml": "resources:\n  - configmap.yaml\n",
		"files/deploy/overlays/development/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: "{{ .Project }}-cm"
data:
  greeting: "{{ .Params.greeting }}"
`,
	}
}

func TestLoadErrors(t *testing.T) {
	cm := "files/deploy/overlays/development/configmap.yaml"
	kust := "files/deploy/overlays/development/kustomization.yaml"
	tests := []struct {
		name  string
		spec  string            // template.yaml; goodSpec when empty
		files map[string]string // replaces goodFiles' entries; "" deletes
		want  []string          // substrings of the error; "<dir>" is the template directory
	}{
		{name: "valid template loads", want: nil},
		{
			name: "unknown environment type",
			spec: strings.Replace(goodSpec, "type: development", "type: dev", 1),
			want: []string{`<dir>/template.yaml:8: environment type "dev" is not one of development, staging, production`},
		},
		{
			name: "bad parameter type",
			spec: strings.Replace(goodSpec, "type: string", "type: integer", 1),
			want: []string{`<dir>/template.yaml:5: parameter "greeting": type "integer" is not one of string, int, bool`},
		},
		{
			name: "pattern does not compile",
			spec: strings.Replace(goodSpec, "default: hello", "default: hello\n    pattern: '[a-'", 1),
			want: []string{`<dir>/template.yaml:7: parameter "greeting": pattern "[a-" does not compile`},
		},
		{
			name: "default does not match pattern",
			spec: strings.Replace(goodSpec, "default: hello", "default: Hello\n    pattern: '^[a-z]+$'", 1),
			want: []string{`<dir>/template.yaml:6: parameter "greeting": default "Hello" is not valid: parameter "greeting" = "Hello" does not match ^[a-z]+$`},
		},
		{
			name: "int default is not a number",
			spec: strings.Replace(strings.Replace(goodSpec, "type: string", "type: int", 1), "default: hello", "default: many", 1),
			want: []string{`<dir>/template.yaml:6: parameter "greeting": default "many" is not valid: parameter "greeting" must be a whole number, not "many"`},
		},
		{
			name: "optional int without default",
			spec: strings.Replace(strings.Replace(goodSpec, "type: string", "type: int", 1), "    default: hello\n", "", 1),
			want: []string{`<dir>/template.yaml:4: parameter "greeting": default "" is not valid`, "needs a valid default"},
		},
		{
			name: "duplicate parameter names",
			spec: strings.Replace(goodSpec, "environments:", "  - name: greeting\n    default: hi\nenvironments:", 1),
			want: []string{`<dir>/template.yaml:7: parameter "greeting" is declared twice (first at line 4)`},
		},
		{
			name: "parameter name not an identifier",
			spec: strings.Replace(goodSpec, "name: greeting", "name: my-greeting", 1),
			want: []string{`<dir>/template.yaml:4: parameter name "my-greeting" must be letters, digits and '_'`},
		},
		{
			name: "approvals on an environment that follows the branch",
			spec: strings.Replace(goodSpec, "path: deploy/overlays/development", "path: deploy/overlays/development\n    policy: {approvals: 2}", 1),
			want: []string{`<dir>/template.yaml:10: environment "development": an auto environment deploys every push and takes no approvals`},
		},
		{
			name: "unknown policy mode",
			spec: strings.Replace(goodSpec, "path: deploy/overlays/development", "path: deploy/overlays/development\n    policy:\n      mode: manual", 1),
			want: []string{`<dir>/template.yaml:11: environment "development": policy mode "manual" is not auto`},
		},
		{
			name: "unknown policy field",
			spec: strings.Replace(goodSpec, "path: deploy/overlays/development", "path: deploy/overlays/development\n    policy:\n      approval: 1", 1),
			want: []string{`<dir>/template.yaml:11: unknown field "approval"; known fields are mode, approvals, rollback_skips_approvals`},
		},
		{
			name: "duplicate environment types",
			spec: strings.Replace(goodSpec, "files:", "  - type: development\n    path: deploy/overlays/development\nfiles:", 1),
			want: []string{`<dir>/template.yaml:10: environment type "development" is declared twice (first at line 8)`},
		},
		{
			name: "environment path leaves the repository",
			spec: strings.Replace(goodSpec, "path: deploy/overlays/development", "path: ../outside", 1),
			want: []string{`<dir>/template.yaml:9: environment "development": path "../outside" leaves the repository root`},
		},
		{
			name: "invalid template name",
			spec: strings.Replace(goodSpec, "name: bad", "name: Bad_Name", 1),
			want: []string{`<dir>/template.yaml:1: name "Bad_Name" must be a DNS-1123 label`},
		},
		{
			name: "missing source file",
			spec: strings.Replace(goodSpec, "source: files/", "source: files/missing.yaml", 1),
			want: []string{`<dir>/template.yaml:11: files: source "files/missing.yaml" does not exist in the template directory`},
		},
		{
			name: "two entries produce the same target",
			spec: goodSpec + "  - source: " + cm + "\n    target: deploy/overlays/development/configmap.yaml\n",
			want: []string{`<dir>/template.yaml:13: files: target deploy/overlays/development/configmap.yaml is also produced by the entry at line 11`},
		},
		{
			name: "YAML syntax error",
			spec: strings.Replace(goodSpec, "default: hello", `default: "hello`, 1),
			want: []string{`<dir>/template.yaml:6: found unexpected end of stream`},
		},
		{
			name: "wrong YAML type",
			spec: strings.Replace(goodSpec, "    default: hello\n", "    default: hello\n    required: [yes]\n", 1),
			want: []string{`<dir>/template.yaml:7: cannot unmarshal !!seq into bool`},
		},
		{
			name: "unknown field",
			spec: strings.Replace(goodSpec, "environments:", "enviroments:", 1),
			want: []string{`<dir>/template.yaml:7: unknown field "enviroments"; known fields are name, description, parameters, environments, files`},
		},
		{
			name: "empty template.yaml",
			spec: "# nothing\n",
			want: []string{`<dir>/template.yaml:1: template.yaml is empty`},
		},
		{
			name: "every problem is reported",
			spec: strings.Replace(strings.Replace(goodSpec, "type: development", "type: dev", 1), "type: string", "type: text", 1),
			want: []string{`<dir>/template.yaml:5: parameter "greeting": type "text"`, `<dir>/template.yaml:8: environment type "dev"`},
		},
		{
			// The replaced platform's defect: the overlay directory is dev, the declared path development.
			name: "declared overlay path is not among the files",
			files: map[string]string{
				kust: "", cm: "",
				"files/deploy/overlays/dev/kustomization.yaml":  "resources: []\n",
				"files/deploy/overlays/prod/kustomization.yaml": "resources: []\n",
			},
			want: []string{`<dir>/template.yaml:9: environment "development": overlay path ./deploy/overlays/development does not exist in the rendered template; overlays that exist: ./deploy/overlays/dev, ./deploy/overlays/prod`},
		},
		{
			name:  "declared overlay path has no kustomization",
			files: map[string]string{kust: ""},
			want:  []string{`<dir>/template.yaml:9: environment "development": overlay path ./deploy/overlays/development holds no kustomization.yaml`},
		},
		{
			name:  "missing key in a file",
			files: map[string]string{cm: "data: {{ .Params.nope }}\n"},
			want:  []string{`<dir>/` + cm + `:1:`, `map has no entry for key "nope"`},
		},
		{
			name:  "file does not parse as a template",
			files: map[string]string{cm: "data: {{ .Params.greeting \n"},
			want:  []string{`<dir>/` + cm + `:2: unclosed action`},
		},
		{
			name:  "kustomization does not build",
			files: map[string]string{kust: "resourcez:\n  - configmap.yaml\n"},
			want: []string{`<dir>/template.yaml:9: environment "development", rendered for a sample project "example" with default parameters: kustomize build ./deploy/overlays/development failed:`,
				`json: unknown field "resourcez"`},
		},
		{
			name:  "manifest sets another namespace",
			files: map[string]string{cm: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: kube-system\n"},
			want:  []string{`<dir>/template.yaml:9: environment "development"`, `ConfigMap "cm" in ./deploy/overlays/development sets namespace "kube-system"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "bad")
			files := goodFiles()
			for p, body := range tt.files {
				if body == "" {
					delete(files, p)
				} else {
					files[p] = body
				}
			}
			files["template.yaml"] = goodSpec
			if tt.spec != "" {
				files["template.yaml"] = tt.spec
			}
			writeTree(t, dir, files)
			_, err := New(root)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New(%q) = %v; want no error", root, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%q) = nil; want an error containing %q", root, tt.want)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "<dir>", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("New(%q) = %q; want it to contain %q", root, err, w)
				}
			}
		})
	}
}

func TestLoadDir(t *testing.T) {
	clash := strings.Replace(goodSpec, "name: bad", "name: web-service", 1)
	tests := []struct {
		name  string
		files map[string]string // under the templates directory
		want  string            // substring of the error, "" for none; "<root>" is the directory
	}{
		{
			name:  "user template is added",
			files: withPrefix("mine/", goodFiles(), "template.yaml", strings.Replace(goodSpec, "name: bad", "name: mine", 1)),
		},
		{
			name:  "name clash with a built-in",
			files: withPrefix("web/", goodFiles(), "template.yaml", clash),
			want:  `<root>/web/template.yaml:1: template "web-service" is already defined by templates/builtin/web-service/template.yaml`,
		},
		{
			name:  "directory without template.yaml",
			files: map[string]string{"notes/template.yml": goodSpec},
			want:  `<root>/notes: no template.yaml`,
		},
		{
			name:  "hidden directories and plain files are ignored",
			files: map[string]string{".git/config": "x", "README.md": "templates"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			r, err := New(root)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New(%q) = %v; want no error", root, err)
				}
				return
			}
			if want := strings.ReplaceAll(tt.want, "<root>", root); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("New(%q) = %v, %v; want an error containing %q", root, r, err, want)
			}
		})
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("New(missing directory) = nil; want an error")
	}
}

func TestUserTemplateListed(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, withPrefix("alpha/", goodFiles(), "template.yaml", strings.Replace(goodSpec, "name: bad", "name: alpha", 1)))
	r, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tm := range r.Templates() {
		names = append(names, tm.Name)
	}
	if want := []string{"alpha", "web-service", "worker"}; !slices.Equal(names, want) {
		t.Errorf("Templates() = %q; want %q", names, want)
	}
}

// withPrefix returns files under prefix, plus one more file.
func withPrefix(prefix string, files map[string]string, name, body string) map[string]string {
	out := map[string]string{prefix + name: body}
	for p, b := range files {
		out[prefix+p] = b
	}
	return out
}
