package kube

import (
	"context"
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// ApplyEnvironment creates or updates the six objects of one environment, in
// dependency order: Namespace, ServiceAccount, RoleBinding, Secret,
// GitRepository, Kustomization. Each is server-side applied under the field
// manager "onramp" with forced ownership, so applying again (a retry, a
// redelivered job) converges to exactly one of each. A Namespace that
// exists without being onramp's for the project is refused (CheckNamespaces)
// before anything is applied. Before each object, the
// objects it depends on must have come back from the apiserver present and
// not being deleted; otherwise it stops with an EUNAVAILABLE error naming
// them. The GitRepository and Kustomization are annotated with a reconcile
// request so that Flux acts at once rather than at the next interval.
// progress, when not nil, is called after each object is applied, with the
// object's status as the apiserver returned it. The resources returned are
// the six objects, in order.
func (c *Client) ApplyEnvironment(ctx context.Context, spec EnvironmentSpec, progress func(onramp.Resource)) ([]onramp.Resource, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec = spec.withDefaults()
	objs := Objects(spec)
	applied := make(map[string]client.Object, len(objs))
	out := make([]onramp.Resource, 0, len(objs))
	for i := range objs {
		obj := objs[i]
		if isFlux(obj) {
			requestReconcile(obj, time.Now().Format(time.RFC3339Nano))
		}
		if err := dependenciesPresent(obj, applied); err != nil {
			return out, err
		}
		if i == 0 { // the Namespace: never one someone else made
			if err := c.checkNamespace(ctx, spec.Project, spec.Namespace); err != nil {
				return out, err
			}
		}
		if err := c.apply(ctx, obj); err != nil {
			return out, err
		}
		applied[kindOf(obj)] = obj
		r := Status(obj, spec.Revision)
		r.ObservedAt = time.Now()
		out = append(out, r)
		if progress != nil {
			progress(r)
		}
	}
	return out, nil
}

// dependsOn lists the kinds that must exist before an object of kind.
func dependsOn(kind string) []string {
	switch kind {
	case onramp.KindServiceAccount, onramp.KindSecret:
		return []string{onramp.KindNamespace}
	case onramp.KindRoleBinding:
		return []string{onramp.KindNamespace, onramp.KindServiceAccount}
	case onramp.KindGitRepository:
		return []string{onramp.KindNamespace, onramp.KindSecret}
	case onramp.KindKustomization:
		return []string{onramp.KindNamespace, onramp.KindGitRepository, onramp.KindServiceAccount, onramp.KindRoleBinding}
	}
	return nil
}

// isFlux reports whether obj is reconciled by a Flux controller.
func isFlux(obj client.Object) bool {
	switch obj.(type) {
	case *sourcev1.GitRepository, *kustomizev1.Kustomization:
		return true
	}
	return false
}

// dependenciesPresent checks obj's dependencies against what the apiserver
// answered when they were applied, moments before: an apply answer is a
// read of the live object, so no second round trip is needed to know it is
// there, and a Namespace that is Terminating refuses new content.
func dependenciesPresent(obj client.Object, applied map[string]client.Object) error {
	for _, kind := range dependsOn(kindOf(obj)) {
		dep, ok := applied[kind]
		if !ok {
			return fmt.Errorf("apply %s %s: %s was not applied first", kindOf(obj), objectName(obj), kind)
		}
		if deleting(dep) {
			return onramp.Errorf(onramp.EUNAVAILABLE,
				"cannot apply %s %s: %s %s is being deleted; wait until it is gone, then retry",
				kindOf(obj), objectName(obj), kind, objectName(dep))
		}
	}
	return nil
}

// deleting reports whether obj is on its way out.
func deleting(obj client.Object) bool {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceTerminating {
		return true
	}
	return obj.GetDeletionTimestamp() != nil
}
