package localcluster_test

import (
	"context"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localcluster/clustertest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestNamespaceDeletionCompletes deletes a namespace holding core objects, a
// Deployment and a Flux GitRepository (which carries Flux's finalizer) and
// checks that the namespace really goes away: kube-controller-manager's
// namespace controller empties it and source-controller drops its finalizer.
func TestNamespaceDeletionCompletes(t *testing.T) {
	c := newClient(t, clustertest.Config(t))
	ns := clustertest.Namespace(t)
	ctx := context.Background()
	objs := []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns}, Data: map[string]string{"a": "b"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret", Namespace: ns}, StringData: map[string]string{"a": "b"}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
				},
			},
		},
		&sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Name: "unreachable", Namespace: ns},
			Spec: sourcev1.GitRepositorySpec{
				URL:      "http://127.0.0.1:1/nothing.git",
				Interval: metav1.Duration{Duration: time.Minute},
			},
		},
	}
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	repo := objs[len(objs)-1].(*sourcev1.GitRepository)
	testutil.Eventually(t, fluxTimeout, "source-controller adds its finalizer", func() string {
		if err := c.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
			return err.Error()
		}
		if len(repo.Finalizers) == 0 {
			return "no finalizers yet"
		}
		return ""
	})

	start := time.Now()
	if err := c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("delete namespace %s: %v", ns, err)
	}
	testutil.Eventually(t, fluxTimeout, "namespace "+ns+" gone", func() string {
		var got corev1.Namespace
		err := c.Get(ctx, client.ObjectKey{Name: ns}, &got)
		if apierrors.IsNotFound(err) {
			return ""
		}
		if err != nil {
			return err.Error()
		}
		return "phase " + string(got.Status.Phase) + ", conditions " + namespaceConditions(&got)
	})
	t.Logf("namespace with %d objects gone %s after delete", len(objs), time.Since(start).Round(time.Millisecond))
}

// namespaceConditions summarizes the conditions the namespace controller
// sets while it deletes content, for failure messages.
func namespaceConditions(ns *corev1.Namespace) string {
	s := ""
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			s += string(c.Type) + ": " + c.Message + "; "
		}
	}
	return s
}
