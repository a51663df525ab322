package fluxtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/localgitea/giteatest"
)

func TestMain(m *testing.M) { clustertest.Main(giteatest.Wrap(m)) }

// fluxTimeout bounds every wait on Flux; its reconciles take a few seconds.
const fluxTimeout = 90 * time.Second

// manifests is a kustomization with one ConfigMap saying greeting.
func manifests(greeting string) onramp.Files {
	return onramp.Files{
		"deploy/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [configmap.yaml]\n"),
		"deploy/configmap.yaml":     []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  greeting: " + greeting + "\n"),
	}
}

// TestFluxClonesWithDeployKey: Flux clones a Gitea repository over SSH with
// the read-only deploy key and known_hosts gitprovider returned, applies the
// pushed revision, then the next one.
func TestFluxClonesWithDeployKey(t *testing.T) {
	c := newClient(t)
	ns := clustertest.Namespace(t)
	g := giteatest.Gitea(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := gitprovider.New(gitprovider.Connection{Kind: gitprovider.KindGitea, URL: g.URL, Owner: g.Admin.User, Token: g.Admin.Token})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := p.EnsureRepository(ctx, "flux-"+strings.TrimPrefix(ns, "t-"))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := p.Push(ctx, repo, manifests("hello"), "Render")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := p.EnsureDeployCredential(ctx, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := createSource(t, c, ns, cred)
	ks := createKustomization(t, c, ns)
	waitApplied(t, c, ks, rev)
	if src.Spec.URL != cred.URL || !strings.HasPrefix(cred.URL, "ssh://") {
		t.Errorf("GitRepository URL %q; want the deploy key's ssh:// URL", src.Spec.URL)
	}

	rev2, err := p.Push(ctx, repo, manifests("bonjour"), "Render again")
	if err != nil {
		t.Fatal(err)
	}
	requestReconcile(t, c, src)
	waitApplied(t, c, ks, rev2)
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, &cm); err != nil || cm.Data["greeting"] != "bonjour" {
		t.Errorf("ConfigMap greeting %q, %v; want bonjour", cm.Data["greeting"], err)
	}
}

// newClient is a controller-runtime client with Flux's types.
func newClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(clustertest.Config(t), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createSource creates the Secret holding cred's SecretData and a
// GitRepository "app" cloning cred.URL with it.
func createSource(t *testing.T, c client.Client, ns string, cred gitprovider.DeployCredential) *sourcev1.GitRepository {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-git", Namespace: ns}, Data: cred.SecretData()}
	if err := c.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	src := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL: cred.URL, Interval: metav1.Duration{Duration: time.Minute}, Timeout: &metav1.Duration{Duration: 20 * time.Second},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}, SecretRef: &meta.LocalObjectReference{Name: secret.Name},
		},
	}
	if err := c.Create(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return src
}

// createKustomization creates a Kustomization "app" applying ./deploy of
// the GitRepository "app" into ns, without health checks.
func createKustomization(t *testing.T, c client.Client, ns string) *kustomizev1.Kustomization {
	t.Helper()
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: time.Minute}, Path: "./deploy", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "app"},
		},
	}
	if err := c.Create(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	return ks
}

// requestReconcile asks Flux to reconcile obj now.
func requestReconcile(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(ann)
	if err := c.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}

// waitApplied waits until ks is Ready with lastAppliedRevision rev, and
// fails with what Flux said last.
func waitApplied(t *testing.T, c client.Client, ks *kustomizev1.Kustomization, rev string) {
	t.Helper()
	deadline := time.Now().Add(fluxTimeout)
	var last string
	for time.Now().Before(deadline) {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(ks), ks); err != nil {
			t.Fatal(err)
		}
		last = "lastAppliedRevision=" + ks.Status.LastAppliedRevision
		for _, cond := range ks.Status.Conditions {
			if cond.Type == meta.ReadyCondition {
				last += " Ready=" + string(cond.Status) + " " + cond.Reason + ": " + cond.Message
				if cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == ks.Generation && ks.Status.LastAppliedRevision == rev {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	var src sourcev1.GitRepository
	c.Get(context.Background(), client.ObjectKey{Namespace: ks.Namespace, Name: "app"}, &src)
	t.Fatalf("Kustomization not applied %s within %s: %s; GitRepository conditions %v", rev, fluxTimeout, last, src.Status.Conditions)
}
