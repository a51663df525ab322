package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localcluster/clustertest"
)

// TestMain shares one real control plane with real Flux controllers across
// the tests of this package; without the binaries, cluster tests skip.
// controller-runtime's informers (Watch) log through its global logger,
// which onramp's main sets; here it is silenced.
func TestMain(m *testing.M) {
	log.SetLogger(logr.Discard())
	clustertest.Main(m)
}

// aggregateAdmin fills the rules of the aggregated ClusterRole admin once
// per test binary; see ensureAdminRole.
var aggregateAdmin sync.Once

// ensureAdminRole makes sure the ClusterRole admin, which the Flux service
// account is bound to, has rules. It is an aggregated role: the
// clusterrole-aggregation controller of kube-controller-manager copies the
// rules of the aggregate-to-admin roles into it. The local cluster runs that
// controller; should admin have no rules (a control plane started without
// it), this runs it once from the same binary until it has done its job.
func ensureAdminRole(t testing.TB, c client.Client) {
	t.Helper()
	aggregateAdmin.Do(func() {
		ctx := context.Background()
		var admin rbacv1.ClusterRole
		if err := c.Get(ctx, client.ObjectKey{Name: AdminClusterRole}, &admin); err != nil || len(admin.Rules) > 0 {
			return
		}
		t.Logf("ClusterRole admin has no rules: the local cluster does not run the clusterrole-aggregation controller; running it once")
		cmd := exec.Command(filepath.Join(clustertest.BinDir(t), "kube-controller-manager"),
			"--kubeconfig="+clustertest.Cluster(t).KubeconfigPath(),
			"--controllers=clusterrole-aggregation", "--leader-elect=false", "--secure-port=0")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start clusterrole-aggregation controller: %v", err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		testutil.Eventually(t, 30*time.Second, "ClusterRole admin aggregated", func() string {
			if err := c.Get(ctx, client.ObjectKey{Name: AdminClusterRole}, &admin); err != nil {
				return err.Error()
			}
			if len(admin.Rules) == 0 {
				return "no rules yet"
			}
			return ""
		})
	})
}

// fluxTimeout bounds every wait on Flux; reconciles here take 1–3 s.
const fluxTimeout = 60 * time.Second

// clusterEnv is one test's project in the shared cluster: onramp's client,
// a plain client to check it with, and an environment whose overlay is
// pushed to a real Git server.
type clusterEnv struct {
	kube  *Client
	plain client.Client
	spec  EnvironmentSpec
}

// newClusterEnv pushes a rendered project to a new Git server and returns an
// environment spec for it under a project name unique to the test. The
// project's objects are deleted when the test ends, unless the test did.
func newClusterEnv(t testing.TB) *clusterEnv {
	t.Helper()
	cfg := clustertest.Config(t)
	k, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	plain, err := client.New(cfg, client.Options{Scheme: k.scheme})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	ensureAdminRole(t, plain)
	project := uniqueProject()
	repo := clustertest.NewGitServer(t, "flux", testPassword).NewRepo(t, project)
	url, revision := repo.URL, "main@sha1:"+repo.Push(t, overlayFiles(project))
	spec := testSpec(project)
	spec.GitURL, spec.Revision = url, revision
	spec = spec.withDefaults()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), fluxTimeout)
		defer cancel()
		if err := k.DeleteProject(ctx, project, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return &clusterEnv{kube: k, plain: plain, spec: spec}
}

// uniqueProject is a fresh project name, so that tests never share objects.
func uniqueProject() string {
	return fmt.Sprintf("p%08x", rand.Uint32())
}

// waitStatus waits until obj's live Status, against the spec's revision, is
// want, and returns it.
func (e *clusterEnv) waitStatus(t testing.TB, obj client.Object, want onramp.ResourceStatus) onramp.Resource {
	t.Helper()
	var r onramp.Resource
	testutil.Eventually(t, fluxTimeout, fmt.Sprintf("%s %s %s", kindOf(obj), objectName(obj), want), func() string {
		if err := e.plain.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err.Error()
		}
		r = Status(obj, e.spec.Revision)
		if r.Status != want {
			return fmt.Sprintf("status %s reason %s message %q hint %q", r.Status, r.Reason, strings.TrimSpace(r.Message), r.Hint)
		}
		return ""
	})
	return r
}

// overlayFiles is a rendered project: one overlay for development holding a
// ConfigMap, a kind that needs no controller to become what it says.
func overlayFiles(project string) map[string]string {
	return map[string]string{
		"deploy/overlays/development/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- configmap.yaml\n",
		"deploy/overlays/development/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + project + "-config\ndata:\n  greeting: hello\n",
	}
}
