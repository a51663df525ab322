package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// DefaultDeleteTimeout is how long DeleteProject waits for the objects of
// one kind to be gone when the Client's DeleteTimeout is zero.
const DefaultDeleteTimeout = 2 * time.Minute

// deletionOrder is the order DeleteProject deletes kinds in: Kustomizations
// first, while the GitRepository, the ServiceAccount Flux impersonates and
// the Namespace still exist, so that kustomize-controller can prune what it
// applied and then drop its finalizer; the Namespace last.
func deletionOrder() []schema.GroupVersionKind {
	return []schema.GroupVersionKind{
		kustomizev1.GroupVersion.WithKind(onramp.KindKustomization),
		sourcev1.GroupVersion.WithKind(onramp.KindGitRepository),
		corev1.SchemeGroupVersion.WithKind(onramp.KindSecret),
		rbacv1.SchemeGroupVersion.WithKind(onramp.KindRoleBinding),
		corev1.SchemeGroupVersion.WithKind(onramp.KindServiceAccount),
		corev1.SchemeGroupVersion.WithKind(onramp.KindNamespace),
	}
}

// DeleteProject deletes every object labelled with the project, one kind at
// a time in deletionOrder, and waits until each kind is really gone (a
// Namespace until the apiserver answers NotFound) before the next.
// Kustomizations are deleted, never suspended first, so that Flux prunes.
// Transient apiserver errors are retried. If a kind is still there after
// DeleteTimeout, or when ctx ends, the error names every remaining object
// and why it stays (finalizers, namespace conditions). progress, when not
// nil, is told what each kind's deletion is doing: as it starts, and with
// gone once no object of the kind is left (msg is "" when there was none
// to delete).
func (c *Client) DeleteProject(ctx context.Context, project string, progress func(kind string, gone bool, msg string)) error {
	if progress == nil {
		progress = func(string, bool, string) {}
	}
	for _, gvk := range deletionOrder() {
		if err := c.deleteKind(ctx, project, gvk, progress); err != nil {
			return fmt.Errorf("delete project %s: %w", project, err)
		}
	}
	return nil
}

// deleteKind deletes the project's objects of one kind and waits for them
// to be gone.
func (c *Client) deleteKind(ctx context.Context, project string, gvk schema.GroupVersionKind, progress func(kind string, gone bool, msg string)) error {
	objs, err := c.listKind(ctx, project, gvk)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		progress(gvk.Kind, true, "")
		return nil
	}
	progress(gvk.Kind, false, fmt.Sprintf("deleting %s", describe(gvk.Kind, objs)))
	for _, obj := range objs {
		err := retry(ctx, func() error {
			return client.IgnoreNotFound(c.c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)))
		})
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", gvk.Kind, objectName(obj), err)
		}
	}
	if err := c.waitGone(ctx, project, gvk); err != nil {
		return err
	}
	progress(gvk.Kind, true, fmt.Sprintf("%s gone", describe(gvk.Kind, objs)))
	return nil
}

// waitGone waits until no object of the kind is labelled with the project.
func (c *Client) waitGone(ctx context.Context, project string, gvk schema.GroupVersionKind) error {
	timeout := c.DeleteTimeout
	if timeout == 0 {
		timeout = DefaultDeleteTimeout
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := 50 * time.Millisecond
	for {
		objs, err := c.listKind(wctx, project, gvk)
		if err == nil && len(objs) == 0 {
			return nil
		}
		select {
		case <-wctx.Done():
			return c.stillThere(ctx, gvk, objs, err, timeout)
		case <-time.After(interval):
		}
		interval = min(2*interval, time.Second)
	}
}

// stillThere is the error for objects that outlived the wait.
func (c *Client) stillThere(ctx context.Context, gvk schema.GroupVersionKind, objs []client.Object, listErr error, timeout time.Duration) error {
	if listErr != nil {
		return fmt.Errorf("wait for %s to be deleted: %w", gvk.Kind, listErr)
	}
	why := make([]string, 0, len(objs))
	for _, obj := range objs {
		why = append(why, fmt.Sprintf("%s %s (%s)", gvk.Kind, objectName(obj), c.whyRemains(ctx, gvk, obj)))
	}
	return onramp.Errorf(onramp.EUNAVAILABLE, "still present after waiting %s: %s", timeout, strings.Join(why, "; "))
}

// whyRemains explains what holds a deleted object back.
func (c *Client) whyRemains(ctx context.Context, gvk schema.GroupVersionKind, obj client.Object) string {
	var why []string
	if obj.GetDeletionTimestamp() == nil {
		why = append(why, "deletion not requested")
	}
	if f := obj.GetFinalizers(); len(f) > 0 {
		why = append(why, fmt.Sprintf("finalizers %s still present", strings.Join(f, ", ")))
	}
	if gvk.Kind == onramp.KindNamespace {
		why = append(why, c.namespaceConditions(ctx, obj.GetName())...)
	}
	if len(why) == 0 {
		return "no finalizer; the apiserver has not removed it yet"
	}
	return strings.Join(why, "; ")
}

// namespaceConditions are the namespace controller's reasons for a
// namespace that does not go away (content or finalizers remaining).
func (c *Client) namespaceConditions(ctx context.Context, name string) []string {
	var ns corev1.Namespace
	if err := c.c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return nil
	}
	var why []string
	if len(ns.Spec.Finalizers) > 0 {
		why = append(why, fmt.Sprintf("spec.finalizers %v (served by the namespace controller in kube-controller-manager)", ns.Spec.Finalizers))
	}
	for _, cond := range ns.Status.Conditions {
		if cond.Status == corev1.ConditionTrue {
			why = append(why, fmt.Sprintf("%s: %s", cond.Type, cond.Message))
		}
	}
	return why
}

// Remaining lists, as "Kind namespace/name", every object still labelled
// with the project, of every kind onramp creates. Empty means nothing of
// the project is left in the cluster.
func (c *Client) Remaining(ctx context.Context, project string) ([]string, error) {
	present, err := c.Present(ctx, project)
	out := []string{}
	for _, r := range present {
		name := r.Name
		if r.Namespace != "" {
			name = r.Namespace + "/" + r.Name
		}
		out = append(out, r.Kind+" "+name)
	}
	return out, err
}

// Present lists the objects labelled with project that exist in the
// cluster: kind, namespace, name and environment.
func (c *Client) Present(ctx context.Context, project string) ([]onramp.Resource, error) {
	byProject, err := c.present(ctx, client.MatchingLabels{LabelManagedBy: ManagedBy, LabelProject: project})
	return byProject[project], err
}

// PresentAll lists the objects of every project that exist in the cluster,
// by project: one list per kind, where Present takes one per kind and
// project.
func (c *Client) PresentAll(ctx context.Context) (map[string][]onramp.Resource, error) {
	return c.present(ctx, client.MatchingLabels{LabelManagedBy: ManagedBy})
}

func (c *Client) present(ctx context.Context, labels client.MatchingLabels) (map[string][]onramp.Resource, error) {
	out := map[string][]onramp.Resource{}
	for _, gvk := range deletionOrder() {
		objs, err := c.listLabelled(ctx, labels, gvk)
		if err != nil {
			return out, err
		}
		for _, obj := range objs {
			l := obj.GetLabels()
			out[l[LabelProject]] = append(out[l[LabelProject]],
				onramp.Resource{Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Environment: l[LabelEnvironment]})
		}
	}
	return out, nil
}

// listKind lists the metadata of the project's objects of one kind, across
// namespaces.
func (c *Client) listKind(ctx context.Context, project string, gvk schema.GroupVersionKind) ([]client.Object, error) {
	objs, err := c.listLabelled(ctx, client.MatchingLabels{LabelManagedBy: ManagedBy, LabelProject: project}, gvk)
	if err != nil {
		return nil, fmt.Errorf("%w (project %s)", err, project)
	}
	return objs, nil
}

// listLabelled lists the metadata of the objects of one kind with labels,
// across namespaces; metadata only, so Secret values are never read. A kind
// the cluster does not serve (Flux not installed) has no objects.
func (c *Client) listLabelled(ctx context.Context, labels client.MatchingLabels, gvk schema.GroupVersionKind) ([]client.Object, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	err := retry(ctx, func() error { return c.c.List(ctx, list, labels) })
	var noMatch *apimeta.NoKindMatchError
	if errors.As(err, &noMatch) || apierrors.IsNotFound(err) {
		return []client.Object{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", gvk.Kind, err)
	}
	objs := make([]client.Object, 0, len(list.Items))
	for i := range list.Items {
		item := &list.Items[i]
		item.SetGroupVersionKind(gvk)
		objs = append(objs, item)
	}
	return objs, nil
}

// describe is "2 Kustomizations (a/x, b/x)".
func describe(kind string, objs []client.Object) string {
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, objectName(o))
	}
	return fmt.Sprintf("%d %s (%s)", len(objs), plural(kind, len(objs)), strings.Join(names, ", "))
}

// plural is kind, in the plural unless n is 1: "GitRepositories".
func plural(kind string, n int) string {
	switch {
	case n == 1:
		return kind
	case strings.HasSuffix(kind, "y"):
		return strings.TrimSuffix(kind, "y") + "ies"
	}
	return kind + "s"
}
