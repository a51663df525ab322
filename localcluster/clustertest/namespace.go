package clustertest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// namespaces is the resource Namespace creates and deletes.
var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// Namespace creates a namespace with a fresh random name derived from the
// test's name in the shared cluster, and deletes it when the test ends. The
// deletion is not awaited: the namespace controller removes its contents in
// the background. It skips t when the binaries are not built.
func Namespace(t testing.TB) string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(Config(t))
	if err != nil {
		t.Fatalf("clustertest.Namespace: %v", err)
	}
	name := namespaceName(t.Name())
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{"onramp.dev/test": "true"},
		},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := dyn.Resource(namespaces).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("clustertest.Namespace: create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := dyn.Resource(namespaces).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("clustertest.Namespace: delete namespace %s: %v", name, err)
		}
	})
	return name
}

// namespaceName turns a test name into a valid, unique namespace name:
// lowercase letters, digits and dashes, at most 63 characters.
func namespaceName(testName string) string {
	var b strings.Builder
	dash := true // no leading dash, no double dashes
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.TrimRight(b.String(), "-")
	if len(base) > 48 {
		base = strings.TrimRight(base[:48], "-")
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = letters[rand.IntN(len(letters))]
	}
	if base == "" {
		return "t-" + string(suffix)
	}
	return "t-" + base + "-" + string(suffix)
}
