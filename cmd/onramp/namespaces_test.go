package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/store/storetest"
)

// A project whose "<project>-<environment>" would be a namespace of
// Kubernetes, Flux, onramp itself or one the operator reserved is refused
// at create, naming the environment that makes it.
func TestReservedNamespacesRefused(t *testing.T) {
	s := startMain(t, "serve", storetest.URL(t, "sqlite"), nil, "--workers", "0",
		"--namespace", "platform-onramp", "--reserved-namespaces", "apps-prod,team-*")
	tok := s.token(t, "alice")
	tests := []struct{ project, env string }{
		{"kube", "system"}, {"kube", "public"}, {"kube", "node-lease"}, {"flux", "system"},
		{"platform", "onramp"}, {"apps", "prod"}, {"team", "blue"},
	}
	for _, tt := range tests {
		body := map[string]any{"name": tt.project, "template": "web-service",
			"environments": []map[string]string{{"name": "dev", "type": "development"}, {"name": tt.env, "type": "production"}}}
		if tt.project == "kube" || tt.project == "team" { // every namespace of theirs is reserved
			body["environments"] = []map[string]string{{"name": tt.env, "type": "production"}}
		}
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		code := call(t, "POST", s.url+"/api/v1/projects", tok, body, &e)
		ns := tt.project + "-" + tt.env
		wantField := "environments[1].name"
		if len(body["environments"].([]map[string]string)) == 1 {
			wantField = "environments[0].name"
		}
		if code != 422 || e.Error.Code != onramp.EINVALID || e.Error.Field != wantField || !strings.Contains(e.Error.Message, ns) {
			t.Errorf("create %s with %s = %d %+v; want 422 invalid naming %s and %s", tt.project, tt.env, code, e.Error, wantField, ns)
		}
		if _, code := getProject(t, s, tok, tt.project); code != 404 {
			t.Errorf("project %s exists after its refusal (%d)", tt.project, code)
		}
	}
	// Without --namespace, onramp's own namespace is onramp-system.
	s = startMain(t, "serve", storetest.URL(t, "sqlite"), nil, "--workers", "0")
	tok = s.token(t, "alice")
	body := map[string]any{"name": "onramp", "template": "web-service", "environments": []map[string]string{{"name": "system", "type": "production"}}}
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, body, nil); code != 422 {
		t.Errorf("create onramp with system = %d; want 422", code)
	}
}

// A namespace that exists without being onramp's for the project is refused
// at preflight, before anything is applied, and is never relabelled or
// deleted, not even when the refused project is deleted.
func TestForeignNamespaceUntouched(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	k := kubeClient(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		labels map[string]string
	}{
		{"unlabelled", map[string]string{"team": "payments"}},
		{"another project's", map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelProject: "someone-else"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := uniqueName("victim")
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name + "-production", Labels: tt.labels}}
			if err := k.Create(ctx, ns); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { k.Delete(context.Background(), ns) })
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "payments", Namespace: ns.Name}, Data: map[string]string{"k": "v"}}
			if err := k.Create(ctx, cm); err != nil {
				t.Fatal(err)
			}
			if code := call(t, "POST", s.url+"/api/v1/projects", tok, createBody(name), nil); code != 202 {
				t.Fatalf("create = %d", code)
			}
			var p *onramp.Project
			waitUntil(t, 30*time.Second, "failed", func() bool {
				p, _ = getProject(t, s, tok, name)
				return p.Phase == onramp.PhaseFailed
			})
			step := p.Steps[0]
			if step.Name != "render_template" || step.Status != onramp.StepFailed || !strings.Contains(step.Error, ns.Name) || step.Hint == "" {
				t.Errorf("failed at %s (%s) with %q hint %q; want render_template naming %s, with a hint", step.Name, step.Status, step.Error, step.Hint, ns.Name)
			}
			if objs := clusterObjects(t, k, name); len(objs) != 0 {
				t.Errorf("preflight failure applied %d kinds of objects: %v", len(objs), objs)
			}
			checkUntouched(t, k, ns, tt.labels)
			deleteAndCheckGone(t, s, tok, name)
			checkUntouched(t, k, ns, tt.labels)
		})
	}
}

// checkUntouched fails unless ns still exists, not being deleted, with
// exactly its labels and its ConfigMap.
func checkUntouched(t *testing.T, k client.Client, ns *corev1.Namespace, labels map[string]string) {
	t.Helper()
	var got corev1.Namespace
	if err := k.Get(context.Background(), client.ObjectKeyFromObject(ns), &got); err != nil {
		t.Fatalf("namespace %s: %v", ns.Name, err)
	}
	delete(got.Labels, "kubernetes.io/metadata.name") // set by the apiserver
	if got.DeletionTimestamp != nil || len(got.Labels) != len(labels) {
		t.Errorf("namespace %s: deleting %v, labels %v; want untouched with %v", ns.Name, got.DeletionTimestamp != nil, got.Labels, labels)
	}
	for k, v := range labels {
		if got.Labels[k] != v {
			t.Errorf("namespace %s label %s = %q; want %q", ns.Name, k, got.Labels[k], v)
		}
	}
	var cm corev1.ConfigMap
	if err := k.Get(context.Background(), client.ObjectKey{Namespace: ns.Name, Name: "payments"}, &cm); err != nil || cm.Data["k"] != "v" {
		t.Errorf("ConfigMap in %s: %v %v; want it kept", ns.Name, cm.Data, err)
	}
}
