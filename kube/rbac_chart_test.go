package kube

import (
	"context"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp/deploy"
	"github.com/onramp/onramp/localcluster/clustertest"
)

// TestRBACChart installs only the chart's identity (its ServiceAccount,
// ClusterRole, leader election Role and their bindings) in a namespace of
// its own, takes a token for that ServiceAccount from the TokenRequest API,
// as a pod of the chart would hold, and runs everything onramp's client
// does for a project with it: no impersonation, no admin credentials.
func TestRBACChart(t *testing.T) {
	t.Parallel()
	e := newClusterEnv(t)
	ns := clustertest.Namespace(t)
	account := installChartRBAC(t, e.plain, "onramp-"+uniqueProject(), ns)
	cfg := rest.AnonymousClientConfig(e.kube.cfg)
	cfg.BearerToken = serviceAccountToken(t, e.kube.cfg, ns, account)
	checkAccess(t, cfg, ns)
	runClientAs(t, e, cfg, "the chart's ServiceAccount "+ns+"/"+account)
	leadAs(t, cfg, ns)
}

// installChartRBAC renders the chart as release in namespace, applies its
// identity objects, and returns the ServiceAccount's name. Cluster-scoped
// objects are deleted when the test ends.
func installChartRBAC(t *testing.T, c client.Client, release, namespace string) string {
	t.Helper()
	rendered, err := deploy.Render(deploy.Release{Name: release, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	account := ""
	for _, obj := range rendered.Identity() {
		if obj.GetKind() == "ServiceAccount" {
			account = obj.GetName()
		}
		if err := c.Patch(context.Background(), obj, client.Apply, client.FieldOwner("helm"), client.ForceOwnership); err != nil {
			t.Fatalf("apply the chart's %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetNamespace() == "" {
			t.Cleanup(func() { deleteObject(t, c, obj) })
		}
	}
	if account == "" {
		t.Fatal("the chart rendered no ServiceAccount")
	}
	return account
}

// deleteObject deletes obj, which may be gone already.
func deleteObject(t *testing.T, c client.Client, obj *unstructured.Unstructured) {
	if err := c.Delete(context.Background(), obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
}

// serviceAccountToken asks the TokenRequest API for a short-lived token of
// namespace/account, as the kubelet does for a pod's projected token.
func serviceAccountToken(t *testing.T, admin *rest.Config, namespace, account string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	tok, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), account, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", namespace, account, err)
	}
	return tok.Status.Token
}

// checkAccess asks the apiserver what the token may do: the Lease of leader
// election in its own namespace only, binding admin but not cluster-admin,
// no escalate; and reading /readyz, which onramp's readiness asks the
// apiserver for.
func checkAccess(t *testing.T, cfg *rest.Config, namespace string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		attr authorizationv1.ResourceAttributes
		want bool
	}{
		{"create a Lease in its namespace", authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "create", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{"update a Lease in its namespace", authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{"get a Lease in its namespace", authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "get", Group: "coordination.k8s.io", Resource: "leases"}, true},
		{"delete a Lease in its namespace", authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "delete", Group: "coordination.k8s.io", Resource: "leases"}, false},
		{"update a Lease elsewhere", authorizationv1.ResourceAttributes{Namespace: "kube-system", Verb: "update", Group: "coordination.k8s.io", Resource: "leases"}, false},
		{"bind admin", authorizationv1.ResourceAttributes{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: AdminClusterRole}, true},
		{"bind cluster-admin", authorizationv1.ResourceAttributes{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: "cluster-admin"}, false},
		{"escalate admin", authorizationv1.ResourceAttributes{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: AdminClusterRole}, false},
		{"update a Secret", authorizationv1.ResourceAttributes{Namespace: "default", Verb: "update", Resource: "secrets"}, false},
		{"read a Deployment", authorizationv1.ResourceAttributes{Namespace: "default", Verb: "get", Group: "apps", Resource: "deployments"}, false},
	}
	for _, tt := range tests {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tt.attr}}
		got, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SelfSubjectAccessReview %s: %v", tt.name, err)
		}
		if got.Status.Allowed != tt.want {
			t.Errorf("the chart's ServiceAccount may %s = %v; want %v", tt.name, got.Status.Allowed, tt.want)
		}
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/readyz", Verb: "get"},
	}}
	got, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectAccessReview /readyz: %v", err)
	}
	if !got.Status.Allowed {
		t.Errorf("the chart's ServiceAccount may not GET /readyz: onramp's readiness would fail")
	}
}
