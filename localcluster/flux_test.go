package localcluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localcluster/clustertest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fluxTimeout bounds every wait on Flux; reconciles here take ~1–3 s.
const fluxTimeout = 60 * time.Second

// TestFluxAppliesPushedRevision pushes manifests to a real Git server, lets
// Flux apply them, then pushes a change that drops the Deployment and checks
// that Flux applies the new revision and prunes it.
func TestFluxAppliesPushedRevision(t *testing.T) {
	c := newClient(t, clustertest.Config(t))
	ns := clustertest.Namespace(t)
	server := clustertest.NewGitServer(t, "flux", "s3cret")
	repo := server.NewRepo(t, "app")
	sha := repo.Push(t, appManifests("hello", true))

	src := createGitSource(t, c, ns, "app", repo.URL, "flux", "s3cret")
	start := time.Now()
	ks := createKustomization(t, c, ns, "app", "./deploy")
	waitApplied(t, c, ks, "main@sha1:"+sha)
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatalf("get GitRepository: %v", err)
	}
	if got, want := src.Status.Artifact.Revision, "main@sha1:"+sha; got != want {
		t.Errorf("GitRepository artifact revision = %q; want %q", got, want)
	}
	t.Logf("GitRepository %s: %s", src.Name, describe(readyFor(src)))
	t.Logf("Kustomization applied %s %s after creation", "main@sha1:"+sha, time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, &cm); err != nil {
		t.Fatalf("get applied ConfigMap: %v", err)
	}
	if got := cm.Data["greeting"]; got != "hello" {
		t.Errorf("ConfigMap greeting = %q; want %q", got, "hello")
	}
	var deploy appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &deploy); err != nil {
		t.Fatalf("get applied Deployment: %v", err)
	}

	sha2 := repo.Push(t, appManifests("bonjour", false))
	requestReconcile(t, c, src)
	waitApplied(t, c, ks, "main@sha1:"+sha2)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, &cm); err != nil {
		t.Fatalf("get ConfigMap after second push: %v", err)
	}
	if got := cm.Data["greeting"]; got != "bonjour" {
		t.Errorf("ConfigMap greeting after second push = %q; want %q", got, "bonjour")
	}
	testutil.Eventually(t, fluxTimeout, "Deployment pruned", func() string {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &appsv1.Deployment{})
		if apierrors.IsNotFound(err) {
			return ""
		}
		return "Get Deployment app: err=" + errString(err)
	})
}

// TestKustomizationPathNotFound checks the failure Flux reports for an
// overlay path that is not in the repository.
func TestKustomizationPathNotFound(t *testing.T) {
	c := newClient(t, clustertest.Config(t))
	ns := clustertest.Namespace(t)
	server := clustertest.NewGitServer(t, "flux", "s3cret")
	repo := server.NewRepo(t, "app")
	repo.Push(t, appManifests("hello", true))
	createGitSource(t, c, ns, "app", repo.URL, "flux", "s3cret")
	ks := createKustomization(t, c, ns, "app", "./missing")

	// Until the source has an artifact, the reason is also ArtifactFailed, with
	// "Source artifact not found, retrying in 30s": wait for the path error.
	waitReadyStatus(t, c, ks, metav1.ConditionFalse, meta.ArtifactFailedReason, "kustomization path not found")
}

// TestGitRepositoryWrongCredentials checks the failure Flux reports when the
// Git server rejects the credentials.
func TestGitRepositoryWrongCredentials(t *testing.T) {
	c := newClient(t, clustertest.Config(t))
	ns := clustertest.Namespace(t)
	server := clustertest.NewGitServer(t, "flux", "s3cret")
	repo := server.NewRepo(t, "app")
	repo.Push(t, appManifests("hello", true))
	src := createGitSource(t, c, ns, "app", repo.URL, "flux", "wrong")

	waitReadyStatus(t, c, src, metav1.ConditionFalse, sourcev1.GitOperationFailedReason, "authentication required")
}

// waitApplied waits until ks is Ready for its generation with
// lastAppliedRevision == revision.
func waitApplied(t testing.TB, c client.Client, ks *kustomizev1.Kustomization, revision string) {
	t.Helper()
	testutil.Eventually(t, fluxTimeout, "Kustomization "+ks.Name+" applied "+revision, func() string {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ks), ks); err != nil {
			return "get: " + err.Error()
		}
		cond := readyFor(ks)
		if cond == nil || cond.Status != metav1.ConditionTrue || ks.Status.LastAppliedRevision != revision {
			return describe(cond) + " lastAppliedRevision=" + ks.Status.LastAppliedRevision
		}
		return ""
	})
	t.Logf("Kustomization %s: %s", ks.Name, describe(readyFor(ks)))
}

// waitReadyStatus waits until obj's Ready condition for its generation has
// status and reason and a message containing message.
func waitReadyStatus(t testing.TB, c client.Client, obj conditioned, status metav1.ConditionStatus, reason, message string) {
	t.Helper()
	var got *metav1.Condition
	want := fmt.Sprintf("%s Ready=%s reason=%s message containing %q", obj.GetName(), status, reason, message)
	testutil.Eventually(t, fluxTimeout, want, func() string {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return "get: " + err.Error()
		}
		got = readyFor(obj)
		if got == nil || got.Status != status || got.Reason != reason || !strings.Contains(got.Message, message) {
			return describe(got)
		}
		return ""
	})
	t.Logf("%s: %s", obj.GetName(), describe(got))
}

// errString is err's message, or "nil".
func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
