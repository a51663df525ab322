package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
)

// applyOrder is the dependency order the contract asks for.
var applyOrder = []string{
	onramp.KindNamespace, onramp.KindServiceAccount, onramp.KindRoleBinding,
	onramp.KindSecret, onramp.KindGitRepository, onramp.KindKustomization,
}

// apply applies e's environment and fails t on error.
func (e *clusterEnv) apply(t testing.TB) []onramp.Resource {
	t.Helper()
	res, err := e.kube.ApplyEnvironment(context.Background(), e.spec, nil)
	if err != nil {
		t.Fatalf("ApplyEnvironment(%s): %v", e.spec.Project, err)
	}
	return res
}

// TestApplyEnvironment applies one environment twice and checks the six
// objects the contract names, their labels, the field manager, the reconcile
// request, and that there is still exactly one of each.
func TestApplyEnvironment(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	ctx := context.Background()
	var progressed []string
	res, err := e.kube.ApplyEnvironment(ctx, e.spec, func(r onramp.Resource) { progressed = append(progressed, r.Kind) })
	if err != nil {
		t.Fatalf("ApplyEnvironment: %v", err)
	}
	if !slices.Equal(progressed, applyOrder) || len(res) != len(applyOrder) {
		t.Fatalf("ApplyEnvironment progress = %v, %d resources; want %v", progressed, len(res), applyOrder)
	}
	first := e.checkObjects(t)

	time.Sleep(10 * time.Millisecond) // a later reconcile request
	e.apply(t)
	second := e.checkObjects(t)
	if second == first {
		t.Errorf("second apply kept %s=%q; want a new reconcile request", AnnotationReconcileRequest, first)
	}
	for _, gvk := range deletionOrder() {
		objs, err := e.kube.listKind(ctx, e.spec.Project, gvk)
		if err != nil || len(objs) != 1 {
			t.Errorf("after two applies: %d %s labelled with the project (err %v); want exactly 1", len(objs), gvk.Kind, err)
		}
	}
	if _, err := e.kube.Verify(ctx, e.spec.Project, []EnvironmentSpec{e.spec}, nil); err != nil {
		t.Errorf("Verify after apply: %v", err)
	}
	// Every project's objects in one list per kind: this one's among them,
	// as Present lists them alone.
	own, err := e.kube.Present(ctx, e.spec.Project)
	if err != nil || len(own) != len(deletionOrder()) {
		t.Fatalf("Present = %+v, %v; want one object of each kind", own, err)
	}
	all, err := e.kube.PresentAll(ctx)
	if err != nil || !slices.Equal(all[e.spec.Project], own) {
		t.Errorf("PresentAll()[%s] = %+v, %v; want %+v", e.spec.Project, all[e.spec.Project], err, own)
	}
}

// checkObjects reads each object back with a plain client, checks what the
// contract says about it, and returns the reconcile request it carries.
func (e *clusterEnv) checkObjects(t testing.TB) (requestedAt string) {
	t.Helper()
	for _, want := range Objects(e.spec) {
		got := want.DeepCopyObject().(client.Object)
		if err := e.plain.Get(context.Background(), client.ObjectKeyFromObject(want), got); err != nil {
			t.Fatalf("get %s %s: %v", kindOf(want), objectName(want), err)
		}
		if d := differences(want, got); len(d) > 0 {
			t.Errorf("%s %s differs from the contract: %v", kindOf(want), objectName(want), d)
		}
		if !isFlux(got) {
			continue
		}
		at := got.GetAnnotations()[AnnotationReconcileRequest]
		if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
			t.Errorf("%s %s annotation %s = %q; want an RFC3339Nano time", kindOf(want), objectName(want), AnnotationReconcileRequest, at)
		}
		if got.GetAnnotations()[AnnotationRevision] != e.spec.Revision {
			t.Errorf("%s annotation %s = %q; want %q", kindOf(want), AnnotationRevision, got.GetAnnotations()[AnnotationRevision], e.spec.Revision)
		}
		requestedAt = at
	}
	return requestedAt
}

// TestVerifyNamesWhatIsWrong deletes the GitRepository and edits the
// Kustomization's path behind onramp's back: Verify must name both, also
// when it reads "not older than" what the apply answered.
func TestVerifyNamesWhatIsWrong(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	applied := e.apply(t)
	for _, r := range applied {
		if r.ResourceVersion == "" {
			t.Fatalf("ApplyEnvironment returned %s %s without its resourceVersion", r.Kind, r.Name)
		}
	}
	ctx := context.Background()
	repo, ks := GitRepository(e.spec), Kustomization(e.spec)
	if err := e.plain.Delete(ctx, repo); err != nil {
		t.Fatalf("delete GitRepository by hand: %v", err)
	}
	patch := []byte(`{"spec":{"path":"./elsewhere"}}`)
	if err := e.plain.Patch(ctx, ks, client.RawPatch("application/merge-patch+json", patch), client.FieldOwner("someone-else")); err != nil {
		t.Fatalf("edit Kustomization by hand: %v", err)
	}
	// A "not older than" read is served from the apiserver's watch cache,
	// which has both changes milliseconds after etcd: wait until it does
	// (resourceVersion "0" reads that cache as it is).
	cached := &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}}
	testutil.Eventually(t, fluxTimeout, "both changes in the apiserver's watch cache", func() string {
		if err := e.plain.Get(ctx, client.ObjectKeyFromObject(repo), &sourcev1.GitRepository{}, cached); !apierrors.IsNotFound(err) {
			return "GitRepository still there, err " + errString(err)
		}
		got := &kustomizev1.Kustomization{}
		if err := e.plain.Get(ctx, client.ObjectKeyFromObject(ks), got, cached); err != nil || got.Spec.Path != "./elsewhere" {
			return "Kustomization not edited yet, err " + errString(err)
		}
		return ""
	})
	// Read with quorum GETs, "not older than" GETs, then from a watch.
	for i, applied := range [][]onramp.Resource{nil, applied, applied} {
		if i == 2 {
			startWatch(t, e.kube)
		}
		res, err := e.kube.Verify(ctx, e.spec.Project, []EnvironmentSpec{e.spec}, applied)
		if err == nil {
			t.Fatalf("Verify (%d versions known) = nil error after the GitRepository was deleted; want an error naming it", len(applied))
		}
		for _, s := range []string{
			"GitRepository " + e.spec.Namespace + "/" + e.spec.Project + " is missing",
			`Kustomization ` + e.spec.Namespace + "/" + e.spec.Project + ` differs: spec.path is "./elsewhere", want "./deploy/overlays/development"`,
			"2 of 6",
		} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Verify (%d versions known) error = %q; want it to contain %q", len(applied), err, s)
			}
		}
		if strings.Contains(err.Error(), testPassword) {
			t.Errorf("Verify error shows the password")
		}
		if len(res) != 6 || res[4].Status != onramp.StatusMissing {
			t.Errorf("Verify resources = %+v; want 6 with the GitRepository missing", res)
		}
	}
	// Applying again repairs both.
	e.apply(t)
	if _, err := e.kube.Verify(ctx, e.spec.Project, []EnvironmentSpec{e.spec}, nil); err != nil {
		t.Errorf("Verify after re-apply: %v", err)
	}
}

// TestFluxReadyAtPushedRevision checks that real Flux reconciles what
// ApplyEnvironment created to Ready at the pushed revision, and that Status
// says so with Flux's own reason and message.
func TestFluxReadyAtPushedRevision(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	start := time.Now()
	e.apply(t)
	rs := e.waitStatus(t, GitRepository(e.spec), onramp.StatusReady)
	rk := e.waitStatus(t, Kustomization(e.spec), onramp.StatusReady)
	t.Logf("Kustomization ready at %s %s after apply", rk.Revision, time.Since(start).Round(time.Millisecond))
	if rs.Reason != meta.SucceededReason || rs.Message != "stored artifact for revision '"+e.spec.Revision+"'" || rs.Revision != e.spec.Revision {
		t.Errorf("GitRepository status = %+v; want Succeeded at %s", rs, e.spec.Revision)
	}
	if rk.Reason != meta.ReconciliationSucceededReason || rk.Message != "Applied revision: "+e.spec.Revision || rk.Revision != e.spec.Revision {
		t.Errorf("Kustomization status = %+v; want ReconciliationSucceeded at %s", rk, e.spec.Revision)
	}
	var cm corev1.ConfigMap
	if err := e.plain.Get(context.Background(), client.ObjectKey{Namespace: e.spec.Namespace, Name: e.spec.Project + "-config"}, &cm); err != nil {
		t.Errorf("the overlay's ConfigMap was not applied by Flux: %v", err)
	}
	// A revision onramp did not push is not ready, even though Flux is.
	if r := Status(mustGet(t, e, Kustomization(e.spec)), "main@sha1:0000000000000000000000000000000000000000"); r.Status != onramp.StatusReconciling {
		t.Errorf("Status(ready Kustomization, other revision) = %s; want reconciling", r.Status)
	}
}

// TestKustomizationPathNotFound gives an overlay path the repository does
// not have: Flux fails with ArtifactFailed, and so does Status.
func TestKustomizationPathNotFound(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	e.spec.Path = "./deploy/overlays/missing"
	e.apply(t)
	r := e.waitStatus(t, Kustomization(e.spec), onramp.StatusFailed)
	if r.Reason != meta.ArtifactFailedReason || !strings.HasPrefix(r.Message, "kustomization path not found: stat ") || !strings.Contains(r.Message, "/kustomization-") ||
		!strings.HasSuffix(r.Message, "/deploy/overlays/missing: no such file or directory") {
		t.Errorf("Status(Kustomization with missing path) = %+v; want failed, ArtifactFailed, path not found", r)
	}
}

// TestApplyRefusesTerminatingNamespace holds a namespace in Terminating and
// checks that ApplyEnvironment refuses to put objects in it, and that
// DeleteProject's timeout says what is left and why.
func TestApplyRefusesTerminatingNamespace(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	e.apply(t)
	e.waitStatus(t, Kustomization(e.spec), onramp.StatusReady)
	ctx := context.Background()
	hold := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "hold", Namespace: e.spec.Namespace, Finalizers: []string{"onramp.dev/test-hold"},
	}}
	if err := e.plain.Create(ctx, hold); err != nil {
		t.Fatalf("create ConfigMap with a finalizer: %v", err)
	}
	e.kube.DeleteTimeout = 10 * time.Second
	err := e.kube.DeleteProject(ctx, e.spec.Project, nil)
	for _, s := range []string{"Namespace " + e.spec.Namespace, "NamespaceFinalizersRemaining", "onramp.dev/test-hold"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("DeleteProject with a held namespace = %v; want an error containing %q", err, s)
		}
	}
	_, err = e.kube.ApplyEnvironment(ctx, e.spec, nil)
	if onramp.ErrorCode(err) != onramp.EUNAVAILABLE || !strings.Contains(err.Error(), "Namespace "+e.spec.Namespace+" is being deleted") {
		t.Errorf("ApplyEnvironment into a Terminating namespace = %v; want EUNAVAILABLE naming the namespace", err)
	}
	release := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))
	if err := e.plain.Patch(ctx, hold, release); err != nil {
		t.Fatalf("release ConfigMap finalizer: %v", err)
	}
	e.kube.DeleteTimeout = 0
	if err := e.kube.DeleteProject(ctx, e.spec.Project, nil); err != nil {
		t.Errorf("DeleteProject after release: %v", err)
	}
}

// mustGet reads obj from the apiserver.
func mustGet[T client.Object](t testing.TB, e *clusterEnv, obj T) T {
	t.Helper()
	if err := e.plain.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatalf("get %s %s: %v", kindOf(obj), objectName(obj), err)
	}
	return obj
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
