package localcluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// newClient returns a controller-runtime client that knows the core and Flux types.
func newClient(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c
}

// appManifests is a kustomize overlay in deploy/ with one ConfigMap and one
// Deployment, both without a namespace (the Kustomization sets it).
func appManifests(greeting string, withDeployment bool) map[string]string {
	resources := "- configmap.yaml\n"
	files := map[string]string{
		"deploy/configmap.yaml": fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  greeting: %q
`, greeting),
	}
	if withDeployment {
		resources += "- deployment.yaml\n"
		files["deploy/deployment.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 1
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: registry.invalid/app:1
`
	}
	files["deploy/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + resources
	return files
}

// createGitSource creates a basic-auth Secret NAME-auth and a GitRepository
// NAME that tracks branch main of url.
func createGitSource(t testing.TB, c client.Client, ns, name, url, user, pass string) *sourcev1.GitRepository {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-auth", Namespace: ns},
		StringData: map[string]string{"username": user, "password": pass},
	}
	if err := c.Create(ctx, secret); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Interval:  metav1.Duration{Duration: time.Minute},
			Timeout:   &metav1.Duration{Duration: 20 * time.Second},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
			SecretRef: &meta.LocalObjectReference{Name: secret.Name},
		},
	}
	if err := c.Create(ctx, repo); err != nil {
		t.Fatalf("create GitRepository: %v", err)
	}
	return repo
}

// createKustomization creates a Kustomization NAME applying path from the
// GitRepository NAME into ns, with prune and without health checks (no
// kubelet runs here, so workloads never become healthy).
func createKustomization(t testing.TB, c client.Client, ns, name, path string) *kustomizev1.Kustomization {
	t.Helper()
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Annotations: map[string]string{meta.ReconcileRequestAnnotation: time.Now().Format(time.RFC3339Nano)},
		},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: name},
			Path:            path,
			Prune:           true,
			Wait:            false,
			TargetNamespace: ns,
			Interval:        metav1.Duration{Duration: time.Minute},
			RetryInterval:   &metav1.Duration{Duration: 5 * time.Second},
			Timeout:         &metav1.Duration{Duration: 30 * time.Second},
		},
	}
	if err := c.Create(context.Background(), ks); err != nil {
		t.Fatalf("create Kustomization: %v", err)
	}
	return ks
}

// requestReconcile sets the reconcile.fluxcd.io/requestedAt annotation, which
// makes Flux reconcile obj now instead of at its next interval.
func requestReconcile(t testing.TB, c client.Client, obj client.Object) {
	t.Helper()
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(ann)
	if err := c.Patch(context.Background(), obj, patch); err != nil {
		t.Fatalf("request reconcile of %s: %v", obj.GetName(), err)
	}
}

// conditioned is a Flux object with conditions.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
}

// readyFor returns obj's Ready condition if it was observed for the current
// generation, as Flux means "ready": stale conditions do not count.
func readyFor(obj conditioned) *metav1.Condition {
	cond := apimeta.FindStatusCondition(obj.GetConditions(), meta.ReadyCondition)
	if cond == nil || cond.ObservedGeneration != obj.GetGeneration() {
		return nil
	}
	return cond
}

// describe formats a condition for failure messages.
func describe(cond *metav1.Condition) string {
	if cond == nil {
		return "no Ready condition for the current generation"
	}
	return fmt.Sprintf("Ready=%s reason=%s message=%q", cond.Status, cond.Reason, cond.Message)
}
