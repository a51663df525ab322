package kube

import (
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

const (
	rev    = "main@sha1:6b584e8ece562ebffc15d38808cd6b98fc3d97ea"
	oldRev = "main@sha1:0a3f4d2c1b0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a"
	// Flux's messages, verbatim from LOCALCLUSTER.md.
	msgStored       = "stored artifact for revision '" + rev + "'"
	msgApplied      = "Applied revision: " + rev
	msgPathNotFound = "kustomization path not found: stat /tmp/kustomization-1803563251/deploy/overlays/dev: no such file or directory"
	msgAuth         = "failed to checkout and determine revision: unable to clone 'http://127.0.0.1:41234/shop.git': authentication required: unauthorized\n"
	msgNoArtifact   = "Source artifact not found, retrying in 30s"
	msgHealth       = "health check failed after 30.0s: timeout waiting for: [Deployment/shop-development/web status: 'InProgress']"
)

func cond(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen}
}

func gitRepo(gen int64, artifact string, conds ...metav1.Condition) *sourcev1.GitRepository {
	g := GitRepository(testSpec("shop"))
	g.Generation = gen
	g.Status.Conditions = conds
	if artifact != "" {
		g.Status.Artifact = &meta.Artifact{Revision: artifact}
	}
	return g
}

func kustomization(gen int64, applied, attempted string, conds ...metav1.Condition) *kustomizev1.Kustomization {
	k := Kustomization(testSpec("shop"))
	k.Generation = gen
	k.Status.Conditions = conds
	k.Status.LastAppliedRevision = applied
	k.Status.LastAttemptedRevision = attempted
	return k
}

func TestStatus(t *testing.T) {
	now := metav1.Now()
	retrying := cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason, "", 1)
	progressing := cond(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason, "Fetching manifests", 1)
	tests := []struct {
		name       string
		obj        client.Object
		want       string // wanted revision
		status     onramp.ResourceStatus
		reason     string
		message    string
		revision   string
		generation int64
		hint       bool // a hint must say why it is not what Ready says
	}{
		{name: "git no conditions yet", obj: gitRepo(1, ""), want: rev,
			status: onramp.StatusReconciling, hint: true},
		{name: "git progressing", obj: gitRepo(1, "",
			cond(meta.ReadyCondition, metav1.ConditionUnknown, meta.ProgressingReason, "reconciliation in progress", 1), progressing),
			want: rev, status: onramp.StatusReconciling, reason: meta.ProgressingReason, message: "reconciliation in progress", generation: 1},
		{name: "git ready at wanted revision", obj: gitRepo(1, rev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason, msgStored, 1)),
			want: rev, status: onramp.StatusReady, reason: meta.SucceededReason, message: msgStored, revision: rev, generation: 1},
		{name: "git ready, no wanted revision", obj: gitRepo(1, oldRev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason, msgStored, 1)),
			status: onramp.StatusReady, reason: meta.SucceededReason, message: msgStored, revision: oldRev, generation: 1},
		{name: "git ready at an older revision", obj: gitRepo(1, oldRev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason, msgStored, 1)),
			want: rev, status: onramp.StatusReconciling, reason: meta.SucceededReason, message: msgStored, revision: oldRev, generation: 1, hint: true},
		{name: "git ready for an older generation", obj: gitRepo(2, rev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason, msgStored, 1)),
			want: rev, status: onramp.StatusReconciling, reason: meta.SucceededReason, message: msgStored, revision: rev, generation: 1, hint: true},
		{name: "git bad credentials", obj: gitRepo(1, "",
			cond(meta.ReadyCondition, metav1.ConditionFalse, sourcev1.GitOperationFailedReason, msgAuth, 1), retrying),
			want: rev, status: onramp.StatusFailed, reason: sourcev1.GitOperationFailedReason, message: msgAuth, generation: 1},
		{name: "git stalled", obj: gitRepo(1, "",
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.InvalidURLReason, "bad url", 1),
			cond(meta.StalledCondition, metav1.ConditionTrue, meta.InvalidURLReason, "URL scheme not supported", 1)),
			want: rev, status: onramp.StatusStalled, reason: meta.InvalidURLReason, message: "URL scheme not supported", generation: 1},
		{name: "kustomization applied wanted revision", obj: kustomization(1, rev, rev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.ReconciliationSucceededReason, msgApplied, 1)),
			want: rev, status: onramp.StatusReady, reason: meta.ReconciliationSucceededReason, message: msgApplied, revision: rev, generation: 1},
		{name: "kustomization applied older revision", obj: kustomization(1, oldRev, oldRev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+oldRev, 1)),
			want: rev, status: onramp.StatusReconciling, reason: meta.ReconciliationSucceededReason, message: "Applied revision: " + oldRev, revision: oldRev, generation: 1, hint: true},
		{name: "kustomization ready for older generation", obj: kustomization(3, rev, rev,
			cond(meta.ReadyCondition, metav1.ConditionTrue, meta.ReconciliationSucceededReason, msgApplied, 2)),
			want: rev, status: onramp.StatusReconciling, reason: meta.ReconciliationSucceededReason, message: msgApplied, revision: rev, generation: 2, hint: true},
		{name: "kustomization path not found", obj: kustomization(1, "", "",
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.ArtifactFailedReason, msgPathNotFound, 1), retrying),
			want: rev, status: onramp.StatusFailed, reason: meta.ArtifactFailedReason, message: msgPathNotFound, generation: 1},
		{name: "kustomization waiting for first source artifact", obj: kustomization(1, "", "",
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.ArtifactFailedReason, msgNoArtifact, 1)),
			want: rev, status: onramp.StatusReconciling, reason: meta.ArtifactFailedReason, message: msgNoArtifact, generation: 1, hint: true},
		{name: "kustomization source lost after an apply", obj: kustomization(1, oldRev, oldRev,
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.ArtifactFailedReason, msgNoArtifact, 1)),
			want: rev, status: onramp.StatusFailed, reason: meta.ArtifactFailedReason, message: msgNoArtifact, revision: oldRev, generation: 1},
		{name: "kustomization health check failed", obj: kustomization(1, rev, rev,
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.HealthCheckFailedReason, msgHealth, 1), retrying),
			want: rev, status: onramp.StatusFailed, reason: meta.HealthCheckFailedReason, message: msgHealth, revision: rev, generation: 1},
		{name: "kustomization dependency not ready", obj: kustomization(1, "", "",
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.DependencyNotReadyReason, "dependency 'x' is not ready", 1)),
			want: rev, status: onramp.StatusReconciling, reason: meta.DependencyNotReadyReason, message: "dependency 'x' is not ready", generation: 1},
		{name: "kustomization failed before, retry in progress", obj: kustomization(1, "", oldRev,
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.BuildFailedReason, "kustomize build failed", 1), progressing),
			want: rev, status: onramp.StatusReconciling, reason: meta.BuildFailedReason, message: "kustomize build failed", generation: 1},
		{name: "kustomization failed for an older generation", obj: kustomization(2, "", "",
			cond(meta.ReadyCondition, metav1.ConditionFalse, meta.ArtifactFailedReason, msgPathNotFound, 1), retrying),
			want: rev, status: onramp.StatusReconciling, reason: meta.ArtifactFailedReason, message: msgPathNotFound, generation: 1, hint: true},
		{name: "namespace exists", obj: Namespace(testSpec("shop")), status: onramp.StatusReady, reason: "Exists"},
		{name: "namespace terminating", obj: func() client.Object {
			ns := Namespace(testSpec("shop"))
			ns.Status.Phase = corev1.NamespaceTerminating
			return ns
		}(), status: onramp.StatusReconciling, reason: "Terminating", message: "Namespace shop-development is being deleted"},
		{name: "secret exists", obj: Secret(testSpec("shop")), status: onramp.StatusReady, reason: "Exists"},
		{name: "service account being deleted", obj: func() client.Object {
			sa := ServiceAccount(testSpec("shop"))
			sa.DeletionTimestamp = &now
			return sa
		}(), status: onramp.StatusReconciling, reason: "Terminating", message: "ServiceAccount shop-development/shop-flux is being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Status(tt.obj, tt.want)
			want := onramp.Resource{
				Kind: kindOf(tt.obj), Name: tt.obj.GetName(), Namespace: tt.obj.GetNamespace(), Environment: "development",
				Status: tt.status, Reason: tt.reason, Message: tt.message, Revision: tt.revision, ObservedGeneration: tt.generation,
				Wanted: tt.want,
			}
			if (got.Hint != "") != tt.hint {
				t.Errorf("Status(%s, %q).Hint = %q; want a hint: %v", tt.name, tt.want, got.Hint, tt.hint)
			}
			got.Hint = ""
			if got != want {
				t.Errorf("Status(%s, %q) =\n  %+v\nwant\n  %+v", tt.name, tt.want, got, want)
			}
		})
	}
}
