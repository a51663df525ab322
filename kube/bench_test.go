package kube

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BenchmarkApplyEnvironment measures ApplyEnvironment for one environment
// against the real apiserver: creating a new project's six objects, and
// re-applying an existing one (a retry).
func BenchmarkApplyEnvironment(b *testing.B) {
	e := newClusterEnv(b)
	ctx := context.Background()
	b.Run("create", func(b *testing.B) {
		for b.Loop() {
			spec := e.spec
			spec.Project, spec.Namespace = uniqueProject(), ""
			if _, err := e.kube.ApplyEnvironment(ctx, spec, nil); err != nil {
				b.Fatal(err)
			}
			deleteNamespaceLater(b, e.plain, spec.withDefaults().Namespace)
		}
	})
	b.Run("reapply", func(b *testing.B) {
		e.apply(b)
		for b.Loop() {
			if _, err := e.kube.ApplyEnvironment(ctx, e.spec, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPlainClient is the floor for BenchmarkApplyEnvironment: the same
// six objects with bare controller-runtime calls (Create; server-side apply
// of ready-made bodies), no checks, no status.
func BenchmarkPlainClient(b *testing.B) {
	e := newClusterEnv(b)
	ctx := context.Background()
	b.Run("create", func(b *testing.B) {
		for b.Loop() {
			spec := e.spec
			spec.Project, spec.Namespace = uniqueProject(), ""
			for _, obj := range Objects(spec) {
				if err := e.plain.Create(ctx, obj); err != nil {
					b.Fatal(err)
				}
			}
			deleteNamespaceLater(b, e.plain, spec.withDefaults().Namespace)
		}
	})
	b.Run("reapply", func(b *testing.B) {
		e.apply(b)
		var bodies []*unstructured.Unstructured
		for _, obj := range Objects(e.spec) {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				b.Fatal(err)
			}
			delete(m, "status")
			unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
			bodies = append(bodies, &unstructured.Unstructured{Object: m})
		}
		for b.Loop() {
			for _, u := range bodies {
				err := e.plain.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership)
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// deleteNamespaceLater deletes a benchmark project's namespace when the
// benchmark ends, without waiting: the namespace controller and Flux clean
// up behind it.
func deleteNamespaceLater(b *testing.B, c client.Client, name string) {
	b.Cleanup(func() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := client.IgnoreNotFound(c.Delete(context.Background(), ns)); err != nil {
			b.Errorf("delete namespace %s: %v", name, err)
		}
	})
}

// BenchmarkVerify measures reading one environment's six objects back and
// checking them, as the pipeline's verify step does for every environment:
// quorum reads from etcd, and reads "not older than" the apply's answer,
// served from the apiserver's watch cache.
func BenchmarkVerify(b *testing.B) {
	e := newClusterEnv(b)
	applied := e.apply(b)
	for _, mode := range []string{"quorum", "applied"} {
		b.Run(mode, func(b *testing.B) {
			known := applied
			if mode == "quorum" {
				known = nil
			}
			for b.Loop() {
				if _, err := e.kube.Verify(context.Background(), e.spec.Project, []EnvironmentSpec{e.spec}, known); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
