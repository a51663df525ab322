package templates

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/onramp/onramp"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

func TestBuiltinsPreflight(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range []string{"web-service", "worker"} {
		// "on" would be a YAML boolean if a template forgot to quote it.
		for _, name := range []string{"shop", "on", "123"} {
			p := newProject(t, r, name, tmpl, nil, allTypes...)
			files, err := r.Render(p)
			if err != nil {
				t.Fatalf("render(%q, %q) = %v", tmpl, name, err)
			}
			if err := r.Preflight(p, files); err != nil {
				t.Errorf("preflight(%q, %q) = %v; want nil", tmpl, name, err)
			}
		}
	}
}

func TestOverlaysBuild(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tmpl     string
		params   map[string]string
		typ      onramp.EnvironmentType
		kinds    []string
		replicas int
		config   map[string]string // ConfigMap data that must be there
	}{
		{"web-service", map[string]string{"replicas": "5"}, onramp.Development, []string{"Deployment", "Service", "ConfigMap"}, 1, map[string]string{"LOG_LEVEL": "debug", "ENVIRONMENT": "development", "PORT": "8080"}},
		{"web-service", map[string]string{"replicas": "5"}, onramp.Staging, []string{"Deployment", "Service", "ConfigMap"}, 2, map[string]string{"LOG_LEVEL": "info", "ENVIRONMENT": "staging"}},
		{"web-service", map[string]string{"replicas": "5"}, onramp.Production, []string{"Deployment", "Service", "ConfigMap"}, 5, map[string]string{"LOG_LEVEL": "warn", "ENVIRONMENT": "production"}},
		{"web-service", nil, onramp.Production, []string{"Deployment", "Service", "ConfigMap"}, 3, nil},
		{"worker", nil, onramp.Development, []string{"Deployment", "ConfigMap"}, 1, map[string]string{"CONCURRENCY": "1", "QUEUE": "default"}},
		{"worker", map[string]string{"concurrency": "8"}, onramp.Staging, []string{"Deployment", "ConfigMap"}, 1, map[string]string{"CONCURRENCY": "8"}},
		{"worker", nil, onramp.Production, []string{"Deployment", "ConfigMap"}, 2, map[string]string{"CONCURRENCY": "4", "ENVIRONMENT": "production"}},
	}
	for _, tt := range tests {
		p := newProject(t, r, "shop", tt.tmpl, tt.params, tt.typ)
		files, err := r.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		objs := buildOverlay(t, files, p.Environments[0].Path)
		var kinds []string
		for _, o := range objs {
			kinds = append(kinds, o["kind"].(string))
		}
		if !slices.Equal(kinds, tt.kinds) {
			t.Errorf("build(%s %s) kinds = %q; want %q", tt.tmpl, tt.typ, kinds, tt.kinds)
		}
		if got := find(objs, "Deployment").field("spec", "replicas"); fmt.Sprint(got) != fmt.Sprint(tt.replicas) {
			t.Errorf("build(%s %s) replicas = %v; want %d", tt.tmpl, tt.typ, got, tt.replicas)
		}
		for k, want := range tt.config {
			if got := find(objs, "ConfigMap").field("data", k); got != want {
				t.Errorf("build(%s %s) ConfigMap %s = %v; want %q", tt.tmpl, tt.typ, k, got, want)
			}
		}
		if tt.tmpl == "web-service" {
			d := find(objs, "Deployment")
			for _, labels := range []any{d.field("metadata", "labels"), d.field("spec", "template").(map[string]any)["metadata"].(map[string]any)["labels"]} {
				if got := labels.(map[string]any)["app.kubernetes.io/environment"]; got != string(tt.typ) {
					t.Errorf("build(%s %s) Deployment label app.kubernetes.io/environment = %v; want %s", tt.tmpl, tt.typ, got, tt.typ)
				}
			}
		}
		for _, o := range objs {
			if ns := o.field("metadata", "namespace"); ns != nil {
				t.Errorf("build(%s %s) %s sets namespace %v; want none", tt.tmpl, tt.typ, o["kind"], ns)
			}
		}
	}
}

// overlayFiles is a rendered tree with a base and the given overlays, each
// holding a kustomization over the base and the extra files.
func overlayFiles(extra map[string]string, overlays ...string) onramp.Files {
	files := onramp.Files{
		"deploy/base/kustomization.yaml": []byte("resources:\n  - configmap.yaml\n"),
		"deploy/base/configmap.yaml":     []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n"),
	}
	for _, o := range overlays {
		files["deploy/overlays/"+o+"/kustomization.yaml"] = []byte("resources:\n  - ../../base\n")
	}
	for p, b := range extra {
		if b == "" {
			delete(files, p)
			continue
		}
		files[p] = []byte(b)
	}
	return files
}

func TestPreflight(t *testing.T) {
	dev := onramp.Environment{Name: "development", Type: onramp.Development, Namespace: "shop-development", Path: "./deploy/overlays/development"}
	prod := onramp.Environment{Name: "production", Type: onramp.Production, Namespace: "shop-production", Path: "./deploy/overlays/production"}
	devKust := "deploy/overlays/development/kustomization.yaml"
	tests := []struct {
		name  string
		files onramp.Files
		envs  []onramp.Environment
		want  string // substring of the error message; "" for no error
		not   string // must not be in the error message
	}{
		{
			name:  "overlays build",
			files: overlayFiles(nil, "development", "production"),
			envs:  []onramp.Environment{dev, prod},
		},
		{
			// The replaced platform's defect: the template made overlays/dev, the Kustomization points at development.
			name:  "overlay path does not exist",
			files: overlayFiles(nil, "dev", "prod"),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": overlay path ./deploy/overlays/development does not exist in the rendered template; overlays that exist: ./deploy/base, ./deploy/overlays/dev, ./deploy/overlays/prod`,
		},
		{
			name:  "only the failing environment is named",
			files: overlayFiles(nil, "development"),
			envs:  []onramp.Environment{dev, prod},
			want:  `environment "production": overlay path ./deploy/overlays/production does not exist`,
			not:   `environment "development"`,
		},
		{
			name:  "no overlay at all",
			files: onramp.Files{"README.md": []byte("hi")},
			envs:  []onramp.Environment{dev},
			want:  `environment "development": overlay path ./deploy/overlays/development does not exist in the rendered template; no directory in the rendered template holds a kustomization.yaml`,
		},
		{
			name:  "directory without kustomization",
			files: overlayFiles(map[string]string{devKust: "", "deploy/overlays/development/patch.yaml": "x: y\n"}),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": overlay path ./deploy/overlays/development holds no kustomization.yaml; overlays that exist: ./deploy/base`,
		},
		{
			name:  "kustomization.yml and Kustomization count",
			files: overlayFiles(map[string]string{"deploy/overlays/development/kustomization.yml": "resources: [../../base]\n", "deploy/overlays/production/Kustomization": "resources: [../../base]\n"}),
			envs:  []onramp.Environment{dev, prod},
		},
		{
			name:  "object in another namespace",
			files: overlayFiles(map[string]string{"deploy/base/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: kube-system\n"}, "development"),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": ConfigMap "settings" in ./deploy/overlays/development sets namespace "kube-system"; leave metadata.namespace empty so that Flux applies it into shop-development`,
		},
		{
			name:  "kustomization namespace sends everything elsewhere",
			files: overlayFiles(map[string]string{devKust: "namespace: default\nresources: [../../base]\n"}),
			envs:  []onramp.Environment{dev},
			want:  `ConfigMap "settings" in ./deploy/overlays/development sets namespace "default"`,
		},
		{
			name:  "object in the environment's own namespace",
			files: overlayFiles(map[string]string{devKust: "namespace: shop-development\nresources: [../../base]\n"}),
			envs:  []onramp.Environment{dev},
		},
		{
			name:  "cluster-scoped ClusterRole",
			files: overlayFiles(map[string]string{devKust: "resources: [../../base, role.yaml]\n", "deploy/overlays/development/role.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n"}),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": ClusterRole "reader" in ./deploy/overlays/development is cluster-scoped; a template may only hold namespaced objects, which Flux applies into shop-development`,
		},
		{
			name:  "cluster-scoped Namespace",
			files: overlayFiles(map[string]string{devKust: "resources: [../../base, ns.yaml]\n", "deploy/overlays/development/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n"}),
			envs:  []onramp.Environment{dev},
			want:  `Namespace "extra" in ./deploy/overlays/development is cluster-scoped`,
		},
		{
			name:  "cluster-scoped kind of an old API version",
			files: overlayFiles(map[string]string{devKust: "resources: [../../base, crd.yaml]\n", "deploy/overlays/development/crd.yaml": "apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n"}),
			envs:  []onramp.Environment{dev},
			want:  `CustomResourceDefinition "widgets.example.com" in ./deploy/overlays/development is cluster-scoped`,
		},
		{
			name:  "broken kustomization quotes kustomize",
			files: overlayFiles(map[string]string{devKust: "resourcez:\n  - ../../base\n"}),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": kustomize build ./deploy/overlays/development failed: invalid Kustomization: json: unknown field "resourcez"`,
		},
		{
			name:  "patch of a missing object quotes kustomize",
			files: overlayFiles(map[string]string{devKust: "resources: [../../base]\npatches:\n  - path: patch.yaml\n", "deploy/overlays/development/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"}),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": kustomize build ./deploy/overlays/development failed: no resource matches strategic merge patch "Deployment.v1.apps/web.[noNs]"`,
		},
		{
			name:  "remote base is refused before kustomize runs",
			files: overlayFiles(map[string]string{devKust: "resources:\n  - https://github.com/example/app//deploy?ref=main\n"}),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": overlay path ./deploy/overlays/development: deploy/overlays/development/kustomization.yaml lists "https://github.com/example/app//deploy?ref=main", which is not in the rendered template (remote bases are not supported: preflight builds offline)`,
		},
		{
			name:  "base outside the tree is refused",
			files: overlayFiles(map[string]string{devKust: "resources: [../../../../etc]\n"}),
			envs:  []onramp.Environment{dev},
			want:  `lists "../../../../etc", which is not in the rendered template`,
		},
		{
			name:  "name onramp uses",
			files: overlayFiles(map[string]string{devKust: "resources: [../../base, secret.yaml]\n", "deploy/overlays/development/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-git\n"}),
			envs:  []onramp.Environment{dev},
			want:  `Secret "shop-git" in ./deploy/overlays/development has the name of an object onramp creates in shop-development; rename it`,
		},
		{
			name:  "overlay producing nothing",
			files: overlayFiles(map[string]string{devKust: "resources: []\n"}),
			envs:  []onramp.Environment{dev},
			want:  `environment "development": kustomize build ./deploy/overlays/development produces no objects`,
		},
		{
			name:  "no environments",
			files: overlayFiles(nil, "development"),
			want:  `project "shop" has no environments to check`,
		},
	}
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Preflight(&onramp.Project{Name: "shop", Environments: tt.envs}, tt.files)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("preflight(%q) = %v; want nil", tt.name, err)
				}
				return
			}
			if got := onramp.ErrorCode(err); got != onramp.EINVALID {
				t.Fatalf("preflight(%q) code = %q (%v); want %q", tt.name, got, err, onramp.EINVALID)
			}
			if got := onramp.ErrorMessage(err); !strings.Contains(got, tt.want) {
				t.Errorf("preflight(%q) = %q; want it to contain %q", tt.name, got, tt.want)
			}
			if got := onramp.ErrorMessage(err); tt.not != "" && strings.Contains(got, tt.not) {
				t.Errorf("preflight(%q) = %q; want it not to contain %q", tt.name, got, tt.not)
			}
		})
	}
}

func TestExistingOverlays(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{"none", []string{"README.md", "deploy/app.yaml"}, nil},
		{"root", []string{"kustomization.yaml"}, []string{"./"}},
		{"nested and sorted", []string{"b/kustomization.yaml", "a/x/Kustomization", "a/kustomization.yml", "a/kustomization.yaml"}, []string{"./a", "./a/x", "./b"}},
	}
	for _, tt := range tests {
		files := onramp.Files{}
		for _, f := range tt.files {
			files[f] = nil
		}
		if got := ExistingOverlays(files); !slices.Equal(got, tt.want) {
			t.Errorf("ExistingOverlays(%q) = %q; want %q", tt.files, got, tt.want)
		}
	}
}

// TestPreflightConcurrent preflights several three-environment projects at
// once, as the workers do, each with a strategic merge patch (which needs
// kustomize's schema), starting with the schema unloaded as in a new
// process. Run with -race (make test does) it checks that concurrent
// preflights are safe; without -race it checks that each gets its own
// answer.
func TestPreflightConcurrent(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	const deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: %s\n"
	overlays := map[string]string{}
	var envs []onramp.Environment
	for _, env := range []string{"development", "staging", "production"} {
		dir := "deploy/overlays/" + env + "/"
		overlays[dir+"kustomization.yaml"] = "resources: [../../base, deploy.yaml]\npatches:\n  - path: patch.yaml\n"
		overlays[dir+"deploy.yaml"] = fmt.Sprintf(deploy, "a")
		overlays[dir+"patch.yaml"] = fmt.Sprintf(deploy, env)
		envs = append(envs, onramp.Environment{Name: env, Namespace: "shop-" + env, Path: "./" + dir})
	}
	files := overlayFiles(overlays)
	// One project in another namespace must fail, and only it.
	wrong := slices.Clone(envs)
	wrong[1].Namespace = "elsewhere"
	for _, f := range []string{"deploy.yaml", "patch.yaml"} {
		name := "deploy/overlays/staging/" + f
		files[name] = []byte(strings.Replace(string(files[name]), "name: web", "name: web\n  namespace: shop-staging", 1))
	}

	// Forget kustomize's schema, so that the builds race to load it again
	// as the first builds of a process do. No other test runs meanwhile.
	buildMu.Lock()
	openapi.ResetOpenAPI()
	buildMu.Unlock()
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		p := &onramp.Project{Name: "shop", Environments: envs}
		if i == n-1 {
			p.Environments = wrong
		}
		// A file of its own each, so that no preflight waits for another's answer.
		own := maps.Clone(files)
		own[fmt.Sprintf("notes/%d.txt", i)] = nil
		wg.Go(func() { errs[i] = r.Preflight(p, own) })
	}
	wg.Wait()
	for i, err := range errs[:n-1] {
		if err != nil {
			t.Errorf("preflight %d = %v; want nil", i, err)
		}
	}
	if err := errs[n-1]; err == nil || !strings.Contains(err.Error(), `environment "staging"`) || strings.Contains(err.Error(), "production") {
		t.Errorf("preflight of the project whose staging namespace differs = %v; want an error about staging only", err)
	}
	for _, env := range envs {
		objs := buildOverlay(t, files, env.Path)
		if got := fmt.Sprint(objs); !strings.Contains(got, "image:"+env.Name) {
			t.Errorf("%s builds %s; want the patch's image %s", env.Name, got, env.Name)
		}
	}
}
