package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/deploy"
)

// Every ONRAMP_ variable the chart sets is one `onramp serve` reads, and
// the chart's gitProvider reaches the server as its default provider.
func TestServeReadsTheChartsEnvironment(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   onramp.GitConnectionCreate
	}{
		{name: "built-in git", values: nil},
		{name: "gitea", values: map[string]any{
			"replicaCount": 3,
			"database":     map[string]any{"type": "postgres", "existingSecret": "onramp-db"},
			"secretKey":    map[string]any{"existingSecret": "onramp-key"},
			"gitProvider":  map[string]any{"kind": "gitea", "url": "https://gitea.example.com", "owner": "platform", "existingSecret": "onramp-gitea"},
			"persistence":  map[string]any{"enabled": false},
			"publicURL":    "https://onramp.example.com",
		}, want: onramp.GitConnectionCreate{Kind: "gitea", URL: "https://gitea.example.com", Owner: "platform", Token: "secret onramp-gitea/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := deploy.Render(deploy.Release{Name: "onramp", Namespace: "onramp-system", Values: tt.values})
			if err != nil {
				t.Fatal(err)
			}
			env := deploymentEnv(t, r)
			read := map[string]bool{}
			var cfg Config
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.bind(fs, func(k string) string { read[k] = true; return env[k] })
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			for name := range env {
				if strings.HasPrefix(name, "ONRAMP_") && !read[name] {
					t.Errorf("the chart sets %s, which onramp serve does not read", name)
				}
			}
			if cfg.GitProvider != tt.want {
				t.Errorf("git provider = %#v; want %#v", cfg.GitProvider, tt.want)
			}
		})
	}
}

// deploymentEnv is the environment of onramp's container as the chart
// sets it: a Secret's key reads "secret NAME/KEY", a field "field PATH".
func deploymentEnv(t *testing.T, r *deploy.Rendered) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, obj := range r.Objects {
		if obj.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		c := containers[0].(map[string]any)
		list, _, _ := unstructured.NestedSlice(c, "env")
		for _, item := range list {
			e := item.(map[string]any)
			name, _ := e["name"].(string)
			if v, ok := e["value"].(string); ok {
				env[name] = v
			} else if ref, ok, _ := unstructured.NestedStringMap(e, "valueFrom", "secretKeyRef"); ok {
				env[name] = "secret " + ref["name"] + "/" + ref["key"]
			} else if path, ok, _ := unstructured.NestedString(e, "valueFrom", "fieldRef", "fieldPath"); ok {
				env[name] = "field " + path
			}
		}
		return env
	}
	t.Fatal("the chart renders no Deployment")
	return nil
}
