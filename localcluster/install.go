package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// fieldManager owns the fields localcluster applies with server-side apply.
const fieldManager = "onramp-localcluster"

var (
	crdResource       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	namespaceResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// installFlux applies the Flux CRDs from crdDir, waits until the apiserver
// serves them, and creates the flux-system namespace. Applying is idempotent,
// so a restart on a reused data dir also upgrades the CRDs.
func installFlux(ctx context.Context, cfg *rest.Config, dyn dynamic.Interface, crdDir string) error {
	crds, err := readCRDs(crdDir)
	if err != nil {
		return fmt.Errorf("install flux: %w", err)
	}
	for _, crd := range crds {
		_, err := dyn.Resource(crdResource).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("install flux: apply crd %s: %w", crd.GetName(), err)
		}
	}
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fluxNamespace},
	}}
	if _, err := dyn.Resource(namespaceResource).Apply(ctx, fluxNamespace, ns, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("install flux: create namespace %s: %w", fluxNamespace, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("install flux: %w", err)
	}
	for _, crd := range crds {
		if err := waitCRDServed(ctx, dyn, disc, crd); err != nil {
			return fmt.Errorf("install flux: %w", err)
		}
	}
	return nil
}

// readCRDs decodes every YAML file in dir.
func readCRDs(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: run `go run ./cmd/localcluster build` again", dir)
	}
	var crds []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read crd: %w", err)
		}
		u := &unstructured.Unstructured{}
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096).Decode(&u.Object); err != nil {
			return nil, fmt.Errorf("decode crd %s: %w", f, err)
		}
		crds = append(crds, u)
	}
	return crds, nil
}

// waitCRDServed waits until crd is Established and its storage version shows
// up in discovery: a controller whose informer starts before that exits
// with "no matches for kind".
func waitCRDServed(ctx context.Context, dyn dynamic.Interface, disc discovery.DiscoveryInterface, crd *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var storage string
	for _, v := range versions {
		if m, ok := v.(map[string]any); ok && m["storage"] == true {
			storage, _ = m["name"].(string)
		}
	}
	var last string
	for {
		last = crdNotServedReason(ctx, dyn, disc, crd.GetName(), group+"/"+storage, plural)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("crd %s not served: %s: %w", crd.GetName(), last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// crdNotServedReason returns why a CRD is not usable yet, or "" when it is.
func crdNotServedReason(ctx context.Context, dyn dynamic.Interface, disc discovery.DiscoveryInterface, name, groupVersion, plural string) string {
	got, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			established = true
		}
	}
	if !established {
		return "not Established"
	}
	list, err := disc.ServerResourcesForGroupVersion(groupVersion)
	if err != nil {
		return "discovery: " + err.Error()
	}
	for _, r := range list.APIResources {
		if r.Name == plural {
			return ""
		}
	}
	return "discovery does not list " + plural + " in " + groupVersion
}
