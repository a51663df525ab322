package clustertest_test

import (
	"context"
	"testing"

	"github.com/onramp/onramp/localcluster/clustertest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestMain uses the helper the way every other package does.
func TestMain(m *testing.M) { clustertest.Main(m) }

// TestNamespaceLifecycle checks that Namespace creates a namespace on the
// shared cluster and that its cleanup starts deleting it.
func TestNamespaceLifecycle(t *testing.T) {
	cs, err := kubernetes.NewForConfig(clustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var name string
	t.Run("uses namespace", func(t *testing.T) {
		name = clustertest.Namespace(t)
		if _, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatalf("get namespace %s made by Namespace: %v", name, err)
		}
	})
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatalf("get namespace %s after its test: %v", name, err)
	case ns.DeletionTimestamp == nil:
		t.Errorf("namespace %s after its test: no deletionTimestamp; want it being deleted", name)
	}
}

// TestClusterMatchesConfig checks that Cluster and Config describe the same
// apiserver, and that the kubeconfig file exists for kubectl.
func TestClusterMatchesConfig(t *testing.T) {
	c := clustertest.Cluster(t)
	if got, want := clustertest.Config(t).Host, c.RESTConfig().Host; got != want {
		t.Errorf("Config(t).Host = %q; want Cluster(t).RESTConfig().Host %q", got, want)
	}
	if c.KubeconfigPath() == "" {
		t.Error("KubeconfigPath() is empty")
	}
}
