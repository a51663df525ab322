package templates

import (
	"fmt"
	"path"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// buildMu serialises kustomize builds. kustomize keeps its OpenAPI schema in
// process-wide variables that are not safe for concurrent use (kustomize
// issues 4824 and 5805), which is why Flux serialises its builds too; being
// process-wide, the lock cannot be a field of a Registry.
var buildMu sync.Mutex

// object is what preflight needs to know of one object a build produced.
type object struct {
	kind, name, namespace string
	clusterScoped         bool
}

// kustomize builds the overlay at dir in process, offline, over the
// rendered files held in memory.
func (t *tree) kustomize(dir string) ([]object, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	m, err := t.build(dir)
	if err != nil {
		return nil, err
	}
	objs := make([]object, 0, m.Size())
	for _, r := range m.Resources() {
		objs = append(objs, object{kind: r.GetKind(), name: r.GetName(), namespace: r.GetNamespace(),
			clusterScoped: clusterScoped(r.GetApiVersion(), r.GetKind())})
	}
	return objs, nil
}

// build runs kustomize; the caller holds buildMu.
func (t *tree) build(dir string) (resmap.ResMap, error) {
	if t.mem == nil {
		mem := filesys.MakeFsInMemory()
		for p, b := range t.files {
			if err := mem.WriteFile("/"+p, b); err != nil {
				return nil, fmt.Errorf("load %s: %w", p, err)
			}
		}
		t.mem = mem
	}
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(t.mem, path.Join("/", dir))
}

// clusterScoped reports whether a kind is cluster-scoped according to
// kustomize's built-in Kubernetes schema, falling back to a list of
// well-known kinds for API versions the schema does not have. Custom kinds
// it cannot know are taken as namespaced; Flux's namespace-bound service
// account could not apply a cluster-scoped one anyway. The caller holds
// buildMu.
func clusterScoped(apiVersion, kind string) bool {
	if namespaced, found := openapi.IsNamespaceScoped(kyaml.TypeMeta{APIVersion: apiVersion, Kind: kind}); found {
		return !namespaced
	}
	switch kind {
	case "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
		"CustomResourceDefinition", "StorageClass", "PriorityClass", "IngressClass",
		"RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment", "APIService",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
		"PodSecurityPolicy", "CertificateSigningRequest":
		return true
	}
	return false
}

// refs is the part of a kustomization that points at other files.
type refs struct {
	Resources  []string          `json:"resources"`
	Components []string          `json:"components"`
	Bases      []string          `json:"bases"`
	OpenAPI    map[string]string `json:"openapi"`
}

// checkRefs refuses, before kustomize runs, any resource, component or base
// of the overlay at dir (and of what it includes) that is not in the
// rendered files: kustomize would fetch a URL over the network, and Flux
// would fail where preflight cannot see. It also refuses openapi:, which
// would change kustomize's schema for every later build in the process.
// A kustomization that does not parse is left for kustomize to report.
func (t *tree) checkRefs(dir string, seen map[string]bool) error {
	name := t.kustomization(dir)
	var k refs
	if name == "" || yaml.Unmarshal(t.files[name], &k) != nil {
		return nil
	}
	if len(k.OpenAPI) > 0 {
		return fmt.Errorf("%s sets openapi:, which onramp does not support", name)
	}
	for _, list := range [][]string{k.Resources, k.Components, k.Bases} {
		for _, ref := range list {
			p := path.Join(dir, ref)
			_, isFile := t.files[p]
			switch {
			case t.dirs[p] && !seen[p]:
				seen[p] = true
				if err := t.checkRefs(p, seen); err != nil {
					return err
				}
			case !t.dirs[p] && !isFile:
				return fmt.Errorf("%s lists %q, which is not in the rendered template (remote bases are not supported: preflight builds offline)", name, ref)
			}
		}
	}
	return nil
}
