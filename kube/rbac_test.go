package kube

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// onrampServiceAccount is the user deploy/rbac.yaml binds.
const onrampServiceAccount = "system:serviceaccount:onramp-system:onramp"

// TestRBAC runs everything onramp's client does for a project (watch,
// apply, read-back, delete) as the ServiceAccount of deploy/rbac.yaml,
// and leader election in onramp-system, against the real apiserver's RBAC:
// the manifest grants each permission onramp needs. Before the manifest is applied, the same user is refused.
func TestRBAC(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	cfg := rest.CopyConfig(e.kube.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: onrampServiceAccount}
	applyManifest(t, e.plain, "../deploy/rbac.yaml")
	runClientAs(t, e, cfg, "the onramp ServiceAccount")
	leadAs(t, cfg, "onramp-system")
}

// runClientAs runs everything onramp's client does for e's project with
// cfg's credentials: watch, apply, read back until Flux says ready, delete.
func runClientAs(t *testing.T, e *clusterEnv, cfg *rest.Config, who string) {
	t.Helper()
	ctx := context.Background()
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := startWatch(t, k) // fails unless it may list and watch every kind
	applied, err := k.ApplyEnvironment(ctx, e.spec, nil)
	if err != nil {
		t.Fatalf("ApplyEnvironment as %s: %v", who, err)
	}
	if _, err := k.Verify(ctx, e.spec.Project, []EnvironmentSpec{e.spec}, applied); err != nil {
		t.Fatalf("Verify as %s: %v", who, err)
	}
	next(t, events, e.spec.Project, "the Kustomization ready", func(ev watchEvent) bool {
		return ev.r.Kind == onramp.KindKustomization && ev.r.Status == onramp.StatusReady
	})
	if err := k.DeleteProject(ctx, e.spec.Project, nil); err != nil {
		t.Fatalf("DeleteProject as %s: %v", who, err)
	}
	if left, err := k.Remaining(ctx, e.spec.Project); err != nil || len(left) != 0 {
		t.Errorf("Remaining after DeleteProject = %v, %v; want nothing", left, err)
	}
}

// TestRBACIsNeeded: without deploy/rbac.yaml's binding the same user is
// refused, so TestRBAC passes because of the manifest.
func TestRBACIsNeeded(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	cfg := rest.CopyConfig(e.kube.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:onramp-system:unbound"}
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.ApplyEnvironment(context.Background(), e.spec, nil); err == nil {
		t.Fatal("ApplyEnvironment as a ServiceAccount bound to nothing succeeded; want forbidden")
	}
}

// applyManifest applies every object of a multi-document YAML file with
// server-side apply.
func applyManifest(t testing.TB, c client.Client, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := c.Patch(context.Background(), &obj, client.Apply, client.FieldOwner("onramp-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s from %s: %v", obj.GetKind(), obj.GetName(), path, err)
		}
	}
}
