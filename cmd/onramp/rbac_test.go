package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/deploy"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store/storetest"
)

// TestLifecycleAsChartServiceAccount runs onramp serve authenticated as the
// Helm chart's ServiceAccount, with a token from the TokenRequest API and
// only the chart's RBAC installed, through a project's whole life: create →
// ready, a pushed commit deployed, an object deleted by hand and retry
// repairing it, delete with nothing left. Any permission the chart lacks
// fails one of these steps.
func TestLifecycleAsChartServiceAccount(t *testing.T) {
	kubeconfig, ns := chartServiceAccountKubeconfig(t)
	// The release namespace, where the chart lets onramp hold the Lease.
	env := map[string]string{"KUBECONFIG": kubeconfig, "ONRAMP_NAMESPACE": ns}
	s := startMain(t, "serve", storetest.URL(t, storetest.Engines()[0]), env)
	tok := s.token(t, "alice")
	name := readyProject(t, s, tok)

	p, _ := getProject(t, s, tok, name)
	git := gitIn(t, t.TempDir())
	git("clone", "-q", strings.Replace(p.Repository.URL, "http://", "http://alice:"+tok+"@", 1), ".")
	git("commit", "-q", "--allow-empty", "-m", "A commit of the owner's")
	git("push", "-q", "origin", "main")
	head := "main@sha1:" + git("rev-parse", "HEAD")
	waitUntil(t, time.Minute, "ready at the pushed head", func() bool {
		p, _ = getProject(t, s, tok, name)
		return p.Phase == onramp.PhaseReady && resourceOf(p, onramp.KindKustomization).Revision == head
	})

	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name}}
	if err := kubeClient(t).Delete(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, s, tok, name, onramp.PhaseDegraded, time.Minute)
	if code := call(t, "POST", s.url+"/api/v1/projects/"+name+"/retry", tok, nil, nil); code != 202 {
		t.Fatalf("retry = %d", code)
	}
	waitPhase(t, s, tok, name, onramp.PhaseReady, time.Minute)

	deleteAndCheckGone(t, s, tok, name)
}

// chartServiceAccountKubeconfig installs the chart's identity objects (its
// ServiceAccount, ClusterRole, leader election Role and bindings) as a
// release in a fresh namespace and returns a kubeconfig that authenticates
// as that ServiceAccount with a TokenRequest token, as a pod of the chart
// would, and the release namespace.
func chartServiceAccountKubeconfig(t *testing.T) (kubeconfig, namespace string) {
	t.Helper()
	ctx := context.Background()
	c := kubeClient(t)
	ns := clustertest.Namespace(t)
	rendered, err := deploy.Render(deploy.Release{Name: uniqueName("onramp"), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	account := ""
	for _, obj := range rendered.Identity() {
		if obj.GetKind() == "ServiceAccount" {
			account = obj.GetName()
		}
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner("helm"), client.ForceOwnership); err != nil {
			t.Fatalf("apply the chart's %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if obj.GetNamespace() == "" {
			t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
		}
	}
	cs, err := kubernetes.NewForConfig(clustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, account, req, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, account, err)
	}
	return writeTokenKubeconfig(t, tr.Status.Token), ns
}

// writeTokenKubeconfig copies the cluster's kubeconfig with its user's
// credentials replaced by token.
func writeTokenKubeconfig(t *testing.T, token string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(clustertest.Cluster(t).KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	kctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		t.Fatalf("the cluster's kubeconfig has no current context %q", cfg.CurrentContext)
	}
	cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{"onramp": {Token: token}}
	kctx.AuthInfo = "onramp"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
