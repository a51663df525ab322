package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// ResourceFunc receives the status of one of a project's objects.
type ResourceFunc func(project string, r onramp.Resource)

// Watch follows every object labelled managed-by=onramp, with informers
// (one list, then a watch stream; no polling), and calls onChange on every
// add and update (of a ServiceAccount, RoleBinding or Secret, only on its
// add: present is all its status says) and onDelete when an object is gone,
// with its status computed by Status. Flux objects are judged
// against the revision in their onramp.dev/revision annotation, so "ready"
// means ready at the revision onramp pushed. The caller decides what is a
// transition: the same status may be delivered more than once.
//
// Resync after a restart needs nothing special: the informers' initial list
// delivers every existing object to onChange before any later change, so a
// caller compares those with what it stored and records the differences.
// Objects deleted while nobody watched produce no onDelete; the caller finds
// them as stored resources that the initial list did not deliver (or with
// Remaining/Verify).
//
// synced, when not nil, is called once every informer has listed what it
// follows: from then on every existing object has been delivered. An
// informer that may not list its kind never syncs.
//
// Calls are serialized, never concurrent. Watch blocks until ctx ends, then
// returns nil; it returns an error if the informers cannot start (for
// example when the Flux CRDs are not installed).
func (c *Client) Watch(ctx context.Context, onChange, onDelete ResourceFunc, synced func()) error {
	informers, err := cache.New(c.cfg, cache.Options{
		Scheme:               c.scheme,
		DefaultLabelSelector: labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy}),
		DefaultTransform:     keepOwnApply,
	})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	h := &watchHandler{onChange: onChange, onDelete: onDelete}
	for _, obj := range []client.Object{&sourcev1.GitRepository{}, &kustomizev1.Kustomization{}, &corev1.Namespace{}} {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %s: %w", kindOf(obj), err)
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			return fmt.Errorf("watch %s: %w", kindOf(obj), err)
		}
	}
	// The status of the other kinds onramp applies is their existence:
	// only their additions and deletions are delivered.
	for _, obj := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.RoleBinding{}, &corev1.Secret{}} {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %s: %w", kindOf(obj), err)
		}
		if _, err := inf.AddEventHandler(existenceHandler{h}); err != nil {
			return fmt.Errorf("watch %s: %w", kindOf(obj), err)
		}
	}
	if synced != nil {
		go func() {
			if informers.WaitForCacheSync(ctx) {
				synced()
			}
		}()
	}
	if err := informers.Start(ctx); err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}

// keepOwnApply drops the managed fields of a cached object but onramp's own
// server-side apply entry, without its field set: Verify checks that onramp
// applied the object, and the rest would only take memory.
func keepOwnApply(in any) (any, error) {
	obj, err := apimeta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone: nothing to trim
	}
	var own []metav1.ManagedFieldsEntry
	for _, f := range obj.GetManagedFields() {
		if f.Manager == FieldManager && f.Operation == metav1.ManagedFieldsOperationApply {
			f.FieldsV1 = nil
			own = append(own, f)
		}
	}
	obj.SetManagedFields(own)
	return in, nil
}

// watchHandler turns informer notifications into resource statuses.
type watchHandler struct {
	mu                 sync.Mutex
	onChange, onDelete ResourceFunc
}

// OnAdd implements toolscache.ResourceEventHandler; the initial list
// arrives here too.
func (h *watchHandler) OnAdd(obj any, _ bool) { h.changed(obj) }

// OnUpdate implements toolscache.ResourceEventHandler.
func (h *watchHandler) OnUpdate(_, obj any) { h.changed(obj) }

// OnDelete implements toolscache.ResourceEventHandler, unwrapping the
// tombstone the informer hands over when it missed the delete event itself.
func (h *watchHandler) OnDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	o, ok := obj.(client.Object)
	if !ok || h.onDelete == nil {
		return
	}
	r := Status(o, o.GetAnnotations()[AnnotationRevision])
	r.Status, r.Reason, r.Message, r.Hint = onramp.StatusMissing, "Deleted", fmt.Sprintf("%s %s was deleted", r.Kind, objectName(o)), ""
	r.ObservedAt = time.Now()
	h.call(h.onDelete, o, r)
}

// existenceHandler delivers the additions and deletions of a kind whose
// status is whether it exists (ServiceAccounts, RoleBindings, Secrets):
// their updates change nothing onramp reports.
type existenceHandler struct{ *watchHandler }

// OnUpdate implements toolscache.ResourceEventHandler.
func (existenceHandler) OnUpdate(_, _ any) {}

// changed reports the status of an added or updated object.
func (h *watchHandler) changed(obj any) {
	o, ok := obj.(client.Object)
	if !ok || h.onChange == nil {
		return
	}
	r := Status(o, o.GetAnnotations()[AnnotationRevision])
	r.ObservedAt = time.Now()
	h.call(h.onChange, o, r)
}

// call runs fn under the handler's lock, so that callers never see two
// calls at once.
func (h *watchHandler) call(fn ResourceFunc, o client.Object, r onramp.Resource) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn(o.GetLabels()[LabelProject], r)
}
