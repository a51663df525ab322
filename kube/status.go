package kube

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// Status is the live status of one of onramp's objects, the way Flux means
// it. A GitRepository or Kustomization is ready only when Ready=True for its
// current generation and, when wantRevision is set, at that revision;
// stalled when Stalled=True; failed when Ready=False for a reason that is not
// "still working on it"; reconciling otherwise, including before Flux has
// said anything. Other kinds are ready when they exist, except a Namespace
// or object being deleted, which is reconciling. ObservedAt is left for the
// caller to stamp, so that Status stays a pure function.
func Status(obj client.Object, wantRevision string) onramp.Resource {
	r := onramp.Resource{
		Kind:            kindOf(obj),
		Name:            obj.GetName(),
		Namespace:       obj.GetNamespace(),
		Environment:     obj.GetLabels()[LabelEnvironment],
		ResourceVersion: obj.GetResourceVersion(),
		Wanted:          wantRevision,
	}
	switch o := obj.(type) {
	case *sourcev1.GitRepository:
		revision := ""
		if o.Status.Artifact != nil {
			revision = o.Status.Artifact.Revision
		}
		return fluxStatus(r, o.Generation, o.Status.Conditions, revision, wantRevision)
	case *kustomizev1.Kustomization:
		r = fluxStatus(r, o.Generation, o.Status.Conditions, o.Status.LastAppliedRevision, wantRevision)
		return waitingForSource(r, o)
	}
	return existenceStatus(r, obj)
}

// existenceStatus is the status of kinds without conditions: present is
// ready, being deleted is reconciling.
func existenceStatus(r onramp.Resource, obj client.Object) onramp.Resource {
	terminating := false
	if ns, ok := obj.(*corev1.Namespace); ok {
		terminating = ns.Status.Phase == corev1.NamespaceTerminating
	}
	if obj.GetDeletionTimestamp() != nil || terminating {
		r.Status = onramp.StatusReconciling
		r.Reason = "Terminating"
		r.Message = fmt.Sprintf("%s %s is being deleted", r.Kind, objectName(obj))
		return r
	}
	r.Status = onramp.StatusReady
	r.Reason = "Exists"
	return r
}

// fluxStatus reads Flux's Stalled and Ready conditions.
func fluxStatus(r onramp.Resource, generation int64, conds []metav1.Condition, revision, want string) onramp.Resource {
	r.Revision = revision
	if c := apimeta.FindStatusCondition(conds, meta.StalledCondition); c != nil && c.Status == metav1.ConditionTrue {
		r.Status, r.Reason, r.Message, r.ObservedGeneration = onramp.StatusStalled, c.Reason, c.Message, c.ObservedGeneration
		return r
	}
	ready := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	if ready == nil {
		r.Status = onramp.StatusReconciling
		r.Hint = "Flux has not reported on this object yet"
		return r
	}
	r.Reason, r.Message, r.ObservedGeneration = ready.Reason, ready.Message, ready.ObservedGeneration
	switch {
	case ready.ObservedGeneration != generation:
		r.Status = onramp.StatusReconciling
		r.Hint = fmt.Sprintf("Flux last reported on generation %d; the object is at generation %d", ready.ObservedGeneration, generation)
	case ready.Status == metav1.ConditionTrue && want != "" && revision != want:
		r.Status = onramp.StatusReconciling
		r.Hint = fmt.Sprintf("Flux is at revision %q; waiting for %q", revision, want)
	case ready.Status == metav1.ConditionTrue:
		r.Status = onramp.StatusReady
	case ready.Status == metav1.ConditionFalse && !inProgress(ready.Reason, conds):
		r.Status = onramp.StatusFailed
	default:
		r.Status = onramp.StatusReconciling
	}
	return r
}

// inProgress reports whether Ready=False means "still working" rather than
// "failed": a progressing or dependency reason, or a Reconciling=True
// condition that is not Flux's mark of a failed attempt awaiting retry
// (ProgressingWithRetry, which Flux sets whenever a reconcile fails).
func inProgress(reason string, conds []metav1.Condition) bool {
	switch reason {
	case meta.ProgressingReason, meta.DependencyNotReadyReason:
		return true
	}
	c := apimeta.FindStatusCondition(conds, meta.ReconcilingCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason != meta.ProgressingWithRetryReason
}

// waitingForSource turns "failed" into "reconciling" for a Kustomization that
// has never attempted a revision because its GitRepository has not produced
// a first artifact yet (Flux: ArtifactFailed "Source artifact not found,
// retrying in 30s", set before any reconcile starts, so no Reconciling
// condition). That is a dependency that is not ready, seen for about a
// second after every creation; if the source really fails, the
// GitRepository itself says so.
func waitingForSource(r onramp.Resource, k *kustomizev1.Kustomization) onramp.Resource {
	if r.Status != onramp.StatusFailed || r.Reason != meta.ArtifactFailedReason {
		return r
	}
	if k.Status.LastAttemptedRevision != "" || k.Status.LastAppliedRevision != "" ||
		apimeta.FindStatusCondition(k.Status.Conditions, meta.ReconcilingCondition) != nil {
		return r
	}
	r.Status = onramp.StatusReconciling
	r.Hint = fmt.Sprintf("waiting for GitRepository %s/%s to produce its first artifact", k.Namespace, k.Spec.SourceRef.Name)
	return r
}
