package kube

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// TestDeleteProject lets Flux apply the overlay, then deletes the project:
// kinds go in the contract's order, Flux prunes what it applied, the
// namespace is really gone (the local cluster runs the namespace
// controller) and Remaining finds nothing.
func TestDeleteProject(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	e.apply(t)
	e.waitStatus(t, Kustomization(e.spec), onramp.StatusReady)
	ctx := context.Background()
	if left, err := e.kube.Remaining(ctx, e.spec.Project); err != nil || len(left) != 6 {
		t.Fatalf("Remaining before delete = %v, %v; want the 6 objects", left, err)
	}

	applied := client.ObjectKey{Namespace: e.spec.Namespace, Name: e.spec.Project + "-config"}
	if err := e.plain.Get(ctx, applied, &corev1.ConfigMap{}); err != nil {
		t.Fatalf("the ConfigMap Flux applied: %v", err)
	}
	var steps, gone []string
	err := e.kube.DeleteProject(ctx, e.spec.Project, func(step string, isGone bool, msg string) {
		t.Logf("%s (gone %t): %s", step, isGone, msg)
		if isGone {
			gone = append(gone, step)
		}
		if step == onramp.KindKustomization && isGone {
			// Flux pruned before dropping its finalizer, while the
			// namespace and the service account were still there.
			if err := e.plain.Get(ctx, applied, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
				t.Errorf("ConfigMap applied by Flux after its Kustomization is gone: err %v; want NotFound (pruned)", err)
			}
		}
		if len(steps) == 0 || steps[len(steps)-1] != step {
			steps = append(steps, step)
		}
	})
	if err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	want := []string{onramp.KindKustomization, onramp.KindGitRepository, onramp.KindSecret,
		onramp.KindRoleBinding, onramp.KindServiceAccount, onramp.KindNamespace}
	if !slices.Equal(steps, want) || !slices.Equal(gone, want) {
		t.Errorf("DeleteProject steps = %v, gone %v; want %v for both", steps, gone, want)
	}
	if left, err := e.kube.Remaining(ctx, e.spec.Project); err != nil || len(left) != 0 {
		t.Errorf("Remaining after DeleteProject = %v, %v; want nothing", left, err)
	}
	err = e.plain.Get(ctx, client.ObjectKey{Name: e.spec.Namespace}, &corev1.Namespace{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("get namespace %s after DeleteProject: %v; want NotFound", e.spec.Namespace, err)
	}
	// Deleting what is already gone is a no-op.
	if err := e.kube.DeleteProject(ctx, e.spec.Project, nil); err != nil {
		t.Errorf("second DeleteProject: %v", err)
	}
}
