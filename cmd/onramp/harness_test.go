package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store/storetest"
)

// TestMain shares one control plane with real Flux, and one Gitea, among
// the tests that need them. Run as a subprocess with
// ONRAMP_TEST_RUN_MAIN=1, the test binary is onramp itself, so crash tests
// can kill a real worker process.
func TestMain(m *testing.M) {
	if os.Getenv("ONRAMP_TEST_RUN_MAIN") == "1" {
		testHooks = crashAt(os.Getenv("ONRAMP_CRASH_AT"))
		main()
		return
	}
	clustertest.Main(giteatest.Wrap(m))
}

// startCluster runs onramp serve against the shared cluster, on a fresh
// database of engine ("" when args name the database).
func startCluster(t testing.TB, engine string, args ...string) *server {
	t.Helper()
	env := map[string]string{"KUBECONFIG": clustertest.Cluster(t).KubeconfigPath()}
	url := ""
	if engine != "" {
		url = storetest.URL(t, engine)
	}
	return startMain(t, "serve", url, env, args...)
}

// kubeClient is an admin client of the shared cluster with the Flux types.
func kubeClient(t testing.TB) client.Client {
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

// clusterObjects counts the objects labelled with project, by kind.
func clusterObjects(t testing.TB, c client.Client, project string) map[string][]client.Object {
	t.Helper()
	ctx := context.Background()
	sel := client.MatchingLabels{kube.LabelProject: project, kube.LabelManagedBy: kube.ManagedBy}
	out := map[string][]client.Object{}
	lists := map[string]client.ObjectList{
		onramp.KindNamespace: &corev1.NamespaceList{}, onramp.KindSecret: &corev1.SecretList{},
		onramp.KindServiceAccount: &corev1.ServiceAccountList{}, onramp.KindRoleBinding: &rbacv1.RoleBindingList{},
		onramp.KindGitRepository: &sourcev1.GitRepositoryList{}, onramp.KindKustomization: &kustomizev1.KustomizationList{},
	}
	for kind, list := range lists {
		if err := c.List(ctx, list, sel); err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		items, err := apimeta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			out[kind] = append(out[kind], item.(client.Object))
		}
	}
	return out
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Until(t, timeout, what, cond)
}

func getProject(t testing.TB, s *server, token, name string) (*onramp.Project, int) {
	t.Helper()
	var p onramp.Project
	code := call(t, "GET", s.url+"/api/v1/projects/"+name, token, nil, &p)
	return &p, code
}

func threeEnvs(name, template string) map[string]any {
	return map[string]any{"name": name, "template": template, "environments": []map[string]string{
		{"name": "development", "type": "development"}, {"name": "staging", "type": "staging"}, {"name": "production", "type": "production"}}}
}

// interruptSignal stops an onramp process cleanly.
var interruptSignal = os.Interrupt

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func clusterKubeconfig(t testing.TB) string { return clustertest.Cluster(t).KubeconfigPath() }

// serverURL waits for a subprocess started by subprocess to print where it
// listens.
func serverURL(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	logPath := cmdLog(cmd)
	var url string
	waitUntil(t, 2*time.Minute, "onramp listening", func() bool {
		b, _ := os.ReadFile(logPath)
		for _, line := range strings.Split(string(b), "\n") {
			if _, after, ok := strings.Cut(line, " listening on "); ok {
				url = strings.TrimSpace(after)
			}
		}
		return url != ""
	})
	return url
}

// subprocess runs this test binary as `onramp <args>` with env added. Its
// output goes to a file of its own.
func subprocess(t testing.TB, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	if kubeconfig := envValue(env, "KUBECONFIG"); kubeconfig != "" && envValue(env, "ONRAMP_NAMESPACE") == "" {
		// Onramps of different tests share the cluster; each leads its
		// own status watcher (see withOwnNamespace).
		env = append(slices.Clip(env), "ONRAMP_NAMESPACE="+clustertest.Namespace(t))
	}
	cmd.Env = append(os.Environ(), append(env, "ONRAMP_TEST_RUN_MAIN=1")...)
	logPath := filepath.Join(t.TempDir(), "onramp.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("onramp %s output:\n%s", strings.Join(args, " "), b)
		}
	})
	return cmd
}

// envValue is the value of name in a list of NAME=value, the last wins.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

func uniqueName(prefix string) string { return storetest.Name(prefix) }

func logText(t testing.TB, s *server, token, name string) string {
	t.Helper()
	var logs struct{ Lines []onramp.LogLine }
	call(t, "GET", s.url+"/api/v1/projects/"+name+"/logs", token, nil, &logs)
	var b strings.Builder
	for _, l := range logs.Lines {
		fmt.Fprintf(&b, "%s %s %s\n", l.Level, l.Step, l.Message)
	}
	return b.String()
}

func decodeJSON(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s answer: %v", resp.Status, err)
	}
}
