package kube

import (
	"context"
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// Client creates, checks, watches and deletes the objects of onramp projects
// in one cluster. It keeps no cache of its own: a read is the apiserver's
// answer (Verify's, "not older than" an apply, from the apiserver's watch
// cache), so what it reports is what the cluster holds.
type Client struct {
	// DeleteTimeout bounds how long DeleteProject waits for the objects of
	// one kind to be gone; zero means DefaultDeleteTimeout.
	DeleteTimeout time.Duration

	cfg    *rest.Config
	scheme *runtime.Scheme
	c      client.Client
}

// New returns a Client for the cluster cfg points to. Client-side rate
// limiting is turned off when cfg sets none, as controller-runtime's own
// config loader does: the apiserver's priority and fairness does the job,
// and client-go's default of 5 requests a second would dominate every apply.
func New(cfg *rest.Config) (*Client, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		cfg.QPS = -1
	}
	// Requests of the direct client are bounded, so that a stopped or
	// unreachable apiserver fails an attempt instead of hanging it (API
	// discovery does not honour contexts). Watches use cfg, unbounded.
	direct := rest.CopyConfig(cfg)
	if direct.Timeout == 0 {
		direct.Timeout = RequestTimeout
	}
	c, err := client.New(direct, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Client{cfg: cfg, scheme: scheme, c: c}, nil
}

// RequestTimeout bounds each request of the direct client.
const RequestTimeout = 15 * time.Second

// newScheme holds exactly the types onramp creates.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		rbacv1.AddToScheme,
		sourcev1.AddToScheme,
		kustomizev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("kubernetes scheme: %w", err)
		}
	}
	return s, nil
}

// apply server-side applies obj under the onramp field manager, taking
// ownership of conflicting fields, and fills obj with what the apiserver
// returned. Typed objects go through unstructured because the Flux types
// have no apply configurations; status and creationTimestamp are dropped so
// that onramp never claims fields it does not set.
func (c *Client) apply(ctx context.Context, obj client.Object) error {
	kind, name := kindOf(obj), objectName(obj)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", kind, name, err)
	}
	delete(m, "status")
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	u := &unstructured.Unstructured{Object: m}
	err = c.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldManager), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", kind, name, err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return fmt.Errorf("apply %s %s: read answer: %w", kind, name, err)
	}
	return nil
}

// kindOf is the Kind of one of onramp's typed objects.
func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *corev1.Namespace:
		return onramp.KindNamespace
	case *corev1.ServiceAccount:
		return onramp.KindServiceAccount
	case *rbacv1.RoleBinding:
		return onramp.KindRoleBinding
	case *corev1.Secret:
		return onramp.KindSecret
	case *sourcev1.GitRepository:
		return onramp.KindGitRepository
	case *kustomizev1.Kustomization:
		return onramp.KindKustomization
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}

// objectName is "namespace/name", or "name" for a cluster-scoped object.
func objectName(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
