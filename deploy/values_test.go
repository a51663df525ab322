package deploy

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// valueSet is one way to install the chart, with what it must render.
type valueSet struct {
	name   string
	values map[string]any
	check  func(t *testing.T, objs objects)
}

// valueSets are the installs docs/install.md describes.
var valueSets = []valueSet{
	{
		name:   "sqlite",
		values: nil, // values.yaml alone: one replica, SQLite on a claim, the built-in Git server
		check: func(t *testing.T, objs objects) {
			d := objs.get(t, "Deployment", "")
			wantInt(t, d, 1, "spec", "replicas")
			wantString(t, d, "Recreate", "spec", "strategy", "type")
			objs.get(t, "PersistentVolumeClaim", objs.name+"-data")
			env := containerEnv(t, d)
			wantEnv(t, env, "ONRAMP_GIT_URL", "value=http://REL-onramp.NS.svc:80/git", objs)
			wantNoEnv(t, env, "ONRAMP_DATABASE_URL", "ONRAMP_SECRET_KEY", "ONRAMP_GIT_PROVIDER_KIND", "ONRAMP_RESERVED_NAMESPACES")
			wantVolume(t, d, "data", "persistentVolumeClaim")
			objs.none(t, "Ingress", "ServiceMonitor")
		},
	},
	{
		name: "postgres",
		values: map[string]any{
			"replicaCount": 3,
			"database":     map[string]any{"type": "postgres", "existingSecret": "onramp-db"},
			"secretKey":    map[string]any{"existingSecret": "onramp-key"},
			"gitProvider": map[string]any{
				"kind": "gitea", "url": "https://gitea.example.com", "owner": "platform", "existingSecret": "onramp-gitea",
			},
			"persistence":        map[string]any{"enabled": false},
			"publicURL":          "https://onramp.example.com",
			"reservedNamespaces": []any{"platform-*", "monitoring"},
		},
		check: func(t *testing.T, objs objects) {
			d := objs.get(t, "Deployment", "")
			wantInt(t, d, 3, "spec", "replicas")
			wantString(t, d, "RollingUpdate", "spec", "strategy", "type")
			objs.none(t, "PersistentVolumeClaim")
			env := containerEnv(t, d)
			wantEnv(t, env, "ONRAMP_DATABASE_URL", "secret=onramp-db/url", objs)
			wantEnv(t, env, "ONRAMP_SECRET_KEY", "secret=onramp-key/secret-key", objs)
			wantEnv(t, env, "ONRAMP_GIT_PROVIDER_KIND", "value=gitea", objs)
			wantEnv(t, env, "ONRAMP_GIT_PROVIDER_URL", "value=https://gitea.example.com", objs)
			wantEnv(t, env, "ONRAMP_GIT_PROVIDER_OWNER", "value=platform", objs)
			wantEnv(t, env, "ONRAMP_GIT_PROVIDER_TOKEN", "secret=onramp-gitea/token", objs)
			wantEnv(t, env, "ONRAMP_PUBLIC_URL", "value=https://onramp.example.com", objs)
			wantEnv(t, env, "ONRAMP_RESERVED_NAMESPACES", "value=platform-*,monitoring", objs)
			wantNoEnv(t, env, "ONRAMP_GIT_URL")
			wantVolume(t, d, "data", "emptyDir")
		},
	},
	{
		name: "ingress",
		values: map[string]any{
			"ingress": map[string]any{
				"enabled": true, "className": "nginx", "host": "onramp.example.com", "tlsSecretName": "onramp-tls",
			},
			"metrics":       map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}},
			"networkPolicy": map[string]any{"egress": []any{map[string]any{"to": []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.0.0.0/8"}}}}}},
		},
		check: func(t *testing.T, objs objects) {
			ing := objs.get(t, "Ingress", "")
			wantString(t, ing, "onramp.example.com", "spec", "rules", "0", "host")
			wantString(t, ing, "onramp-tls", "spec", "tls", "0", "secretName")
			sm := objs.get(t, "ServiceMonitor", "")
			wantString(t, sm, "/metrics", "spec", "endpoints", "0", "path")
			wantString(t, sm, "prometheus", "metadata", "labels", "release")
			env := containerEnv(t, objs.get(t, "Deployment", ""))
			wantEnv(t, env, "ONRAMP_PUBLIC_URL", "value=https://onramp.example.com", objs)
			np := objs.get(t, "NetworkPolicy", "")
			wantString(t, np, "Egress", "spec", "policyTypes", "1")
		},
	},
}

// TestRender renders each value set and checks what each must hold, and
// what every set holds: the hardened pod and the probes.
func TestRender(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := render(t, "rel", "ns", vs.values)
			checkPod(t, objs.get(t, "Deployment", ""))
			objs.get(t, "PodDisruptionBudget", "")
			objs.get(t, "NetworkPolicy", "")
			objs.get(t, "ServiceAccount", "")
			vs.check(t, objs)
		})
	}
}

// checkPod: non-root with a read-only root file system, nothing to
// escalate to, and probes on the health endpoints.
func checkPod(t *testing.T, d *unstructured.Unstructured) {
	t.Helper()
	sc := []string{"spec", "template", "spec", "containers", "0", "securityContext"}
	wantBool(t, d, true, append(sc, "runAsNonRoot")...)
	wantInt(t, d, 65532, append(sc, "runAsUser")...)
	wantBool(t, d, true, append(sc, "readOnlyRootFilesystem")...)
	wantBool(t, d, false, append(sc, "allowPrivilegeEscalation")...)
	wantString(t, d, "ALL", append(sc, "capabilities", "drop", "0")...)
	wantString(t, d, "RuntimeDefault", append(sc, "seccompProfile", "type")...)
	wantString(t, d, "RuntimeDefault", "spec", "template", "spec", "securityContext", "seccompProfile", "type")
	c := []string{"spec", "template", "spec", "containers", "0"}
	wantString(t, d, "/healthz", append(c, "startupProbe", "httpGet", "path")...)
	wantString(t, d, "/healthz", append(c, "livenessProbe", "httpGet", "path")...)
	wantString(t, d, "/readyz", append(c, "readinessProbe", "httpGet", "path")...)
	wantString(t, d, "serve", append(c, "args", "0")...)
	wantVolume(t, d, "tmp", "emptyDir")
	env := containerEnv(t, d)
	for name, want := range map[string]string{"ONRAMP_ADDR": "value=0.0.0.0:8080", "ONRAMP_NAMESPACE": "field=metadata.namespace"} {
		if got := env[name]; got != want {
			t.Errorf("env %s = %q; want %q", name, got, want)
		}
	}
}

// TestSchemaRefuses: values that cannot work are refused by
// values.schema.json, naming the field; rendered without the schema
// (--skip-schema-validation), the templates refuse them with a sentence
// that says what to do.
func TestSchemaRefuses(t *testing.T) {
	tests := []struct {
		name       string
		values     map[string]any
		wantSchema string // what the schema's refusal says
		wantTmpl   string // what the templates say without the schema; "" if they let it through
	}{
		{
			name:       "replicas with sqlite",
			values:     map[string]any{"replicaCount": 3, "secretKey": map[string]any{"existingSecret": "k"}},
			wantSchema: "at '/replicaCount': value must be 1",
			wantTmpl:   "SQLite serves one replica; set database.type=postgres",
		},
		{
			name:       "postgres without its secret",
			values:     map[string]any{"database": map[string]any{"type": "postgres"}},
			wantSchema: "at '/database/existingSecret': minLength: got 0, want 1",
			wantTmpl:   "database.type=postgres needs database.existingSecret",
		},
		{
			name: "replicas without a shared key",
			values: map[string]any{
				"replicaCount": 2, "database": map[string]any{"type": "postgres", "existingSecret": "db"},
				"persistence": map[string]any{"accessModes": []any{"ReadWriteMany"}},
			},
			wantSchema: "at '/secretKey/existingSecret': minLength: got 0, want 1",
			wantTmpl:   "more than one replica needs secretKey.existingSecret",
		},
		{
			name: "replicas on a ReadWriteOnce volume",
			values: map[string]any{
				"replicaCount": 2, "database": map[string]any{"type": "postgres", "existingSecret": "db"},
				"secretKey": map[string]any{"existingSecret": "k"},
			},
			wantSchema: "at '/persistence/accessModes'",
			wantTmpl:   "more than one replica cannot share a ReadWriteOnce volume",
		},
		{
			name: "replicas with the built-in Git server and no volume",
			values: map[string]any{
				"replicaCount": 2, "database": map[string]any{"type": "postgres", "existingSecret": "db"},
				"secretKey": map[string]any{"existingSecret": "k"}, "persistence": map[string]any{"enabled": false},
			},
			wantSchema: "at '/persistence/enabled': value must be true",
			wantTmpl:   "more than one replica with the built-in Git server needs one shared volume",
		},
		{
			name:       "external provider without a token",
			values:     map[string]any{"gitProvider": map[string]any{"kind": "github", "url": "https://api.github.com", "owner": "acme"}},
			wantSchema: "at '/gitProvider/existingSecret': minLength: got 0, want 1",
			wantTmpl:   "gitProvider.kind=github needs gitProvider.url, gitProvider.owner and gitProvider.existingSecret",
		},
		{
			name:       "unknown database",
			values:     map[string]any{"database": map[string]any{"type": "mysql"}},
			wantSchema: "at '/database/type': value must be one of 'sqlite', 'postgres'",
		},
		{
			name:       "unknown git provider",
			values:     map[string]any{"gitProvider": map[string]any{"kind": "svn"}},
			wantSchema: "at '/gitProvider/kind': value must be one of 'builtin', 'gitea', 'github', 'gitlab'",
			wantTmpl:   "gitProvider.kind=svn needs",
		},
		{
			name:       "ingress without a host",
			values:     map[string]any{"ingress": map[string]any{"enabled": true}},
			wantSchema: "at '/ingress/host'",
		},
		{
			name:       "misspelt value",
			values:     map[string]any{"replicas": 2},
			wantSchema: "additional properties 'replicas' not allowed",
		},
		{
			name:       "bad reserved namespace",
			values:     map[string]any{"reservedNamespaces": []any{"Not_A_Namespace"}},
			wantSchema: "at '/reservedNamespaces/0'",
		},
		{
			name:       "bad log level",
			values:     map[string]any{"logLevel": "verbose"},
			wantSchema: "at '/logLevel': value must be one of 'debug', 'info', 'warn', 'error'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(Release{Name: "rel", Namespace: "ns", Values: tt.values})
			if err == nil || !strings.Contains(err.Error(), tt.wantSchema) {
				t.Errorf("Render(%v) = %v; want the schema to refuse it saying %q", tt.values, err, tt.wantSchema)
			}
			if tt.wantTmpl == "" {
				return
			}
			_, err = Render(Release{Name: "rel", Namespace: "ns", Values: tt.values, SkipSchemaValidation: true})
			if err == nil || !strings.Contains(err.Error(), tt.wantTmpl) {
				t.Errorf("Render(%v) without the schema = %v; want the templates to refuse it saying %q", tt.values, err, tt.wantTmpl)
			}
		})
	}
}

// objects is a rendered release with the names it was rendered for.
type objects struct {
	list          []*unstructured.Unstructured
	release, name string // the release name and the objects' base name
	namespace     string
}

// render renders the chart or fails t.
func render(t testing.TB, release, namespace string, values map[string]any) objects {
	t.Helper()
	r, err := Render(Release{Name: release, Namespace: namespace, Values: values})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	name := release + "-onramp" // the chart's full name
	if strings.Contains(release, "onramp") {
		name = release
	}
	return objects{list: r.Objects, release: release, name: name, namespace: namespace}
}

// get returns the object of kind named name (the release's full name when
// empty), or fails t.
func (o objects) get(t testing.TB, kind, name string) *unstructured.Unstructured {
	t.Helper()
	if name == "" {
		name = o.name
	}
	for _, obj := range o.list {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("the chart rendered no %s %s; it rendered %s", kind, name, o)
	return nil
}

// none fails t if any object is of one of kinds.
func (o objects) none(t testing.TB, kinds ...string) {
	t.Helper()
	for _, obj := range o.list {
		for _, k := range kinds {
			if obj.GetKind() == k {
				t.Errorf("the chart rendered %s %s; want none", k, obj.GetName())
			}
		}
	}
}

// String lists the objects as Kind/name.
func (o objects) String() string {
	var s []string
	for _, obj := range o.list {
		s = append(s, obj.GetKind()+"/"+obj.GetName())
	}
	return strings.Join(s, ", ")
}

// field returns the value at path, where a number indexes a list.
func field(obj *unstructured.Unstructured, path ...string) (any, bool) {
	var cur any = obj.Object
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func wantString(t testing.TB, obj *unstructured.Unstructured, want string, path ...string) {
	t.Helper()
	if got, _ := field(obj, path...); got != want {
		t.Errorf("%s %s .%s = %v; want %q", obj.GetKind(), obj.GetName(), strings.Join(path, "."), got, want)
	}
}

func wantInt(t testing.TB, obj *unstructured.Unstructured, want int64, path ...string) {
	t.Helper()
	got, _ := field(obj, path...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s %s .%s = %v; want %d", obj.GetKind(), obj.GetName(), strings.Join(path, "."), got, want)
	}
}

func wantBool(t testing.TB, obj *unstructured.Unstructured, want bool, path ...string) {
	t.Helper()
	if got, ok := field(obj, path...); !ok || got != want {
		t.Errorf("%s %s .%s = %v; want %v", obj.GetKind(), obj.GetName(), strings.Join(path, "."), got, want)
	}
}

// containerEnv returns onramp's environment as NAME → "value=…",
// "secret=NAME/KEY" or "field=PATH".
func containerEnv(t testing.TB, d *unstructured.Unstructured) map[string]string {
	t.Helper()
	list, _ := field(d, "spec", "template", "spec", "containers", "0", "env")
	env := map[string]string{}
	items, _ := list.([]any)
	for _, item := range items {
		e, _ := item.(map[string]any)
		name, _ := e["name"].(string)
		if v, ok := e["value"]; ok {
			env[name] = fmt.Sprint("value=", v)
		} else if ref, ok := field(&unstructured.Unstructured{Object: e}, "valueFrom", "secretKeyRef"); ok {
			r, _ := ref.(map[string]any)
			env[name] = fmt.Sprintf("secret=%v/%v", r["name"], r["key"])
		} else if path, ok := field(&unstructured.Unstructured{Object: e}, "valueFrom", "fieldRef", "fieldPath"); ok {
			env[name] = fmt.Sprint("field=", path)
		} else {
			env[name] = "from elsewhere"
		}
	}
	return env
}

// wantEnv checks one variable; REL and NS in want stand for the release and
// namespace.
func wantEnv(t testing.TB, env map[string]string, name, want string, o objects) {
	t.Helper()
	want = strings.NewReplacer("REL", o.release, "NS", o.namespace).Replace(want)
	if got := env[name]; got != want {
		t.Errorf("env %s = %q; want %q", name, got, want)
	}
}

func wantNoEnv(t testing.TB, env map[string]string, names ...string) {
	t.Helper()
	for _, n := range names {
		if v, ok := env[n]; ok {
			t.Errorf("env %s = %q; want it unset", n, v)
		}
	}
}

// wantVolume checks that the pod's volume name is of the given source kind.
func wantVolume(t testing.TB, d *unstructured.Unstructured, name, source string) {
	t.Helper()
	list, _ := field(d, "spec", "template", "spec", "volumes")
	items, _ := list.([]any)
	for _, item := range items {
		v, _ := item.(map[string]any)
		if v["name"] == name {
			if _, ok := v[source]; !ok {
				t.Errorf("volume %s = %v; want a %s", name, v, source)
			}
			return
		}
	}
	t.Errorf("the pod has no volume %s", name)
}
