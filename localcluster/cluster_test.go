package localcluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/onramp/onramp/localcluster"
	"github.com/onramp/onramp/localcluster/clustertest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestSecondClusterSideBySide runs a second cluster next to the shared one
// and checks that they are separate, that Stop leaves no process and no port
// behind, that a restart on the same data dir keeps objects and ports (so the
// kubeconfig stays valid), that the data dir cannot be used by two clusters
// at once, and that Flux keeps working after a restart that had to take new
// ports (source-controller's artifact server moves).
func TestSecondClusterSideBySide(t *testing.T) {
	shared := newClient(t, clustertest.Config(t))
	binDir := clustertest.BinDir(t)
	dataDir := t.TempDir()
	ctx := context.Background()

	first := startCluster(t, binDir, dataDir)
	second := newClient(t, first.RESTConfig())
	if first.RESTConfig().Host == clustertest.Config(t).Host {
		t.Fatalf("second cluster shares the apiserver %s with the first", first.RESTConfig().Host)
	}
	marker := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "marker", Namespace: "default"}}
	if err := second.Create(ctx, marker); err != nil {
		t.Fatalf("create marker in second cluster: %v", err)
	}
	if err := shared.Get(ctx, client.ObjectKeyFromObject(marker), &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Fatalf("marker of the second cluster in the shared cluster: Get err = %v; want NotFound", err)
	}
	server := clustertest.NewGitServer(t, "flux", "s3cret")
	repo := server.NewRepo(t, "app")
	sha := repo.Push(t, appManifests("hello", false))
	createGitSource(t, second, "default", "app", repo.URL, "flux", "s3cret")
	waitApplied(t, second, createKustomization(t, second, "default", "app", "./deploy"), "main@sha1:"+sha)
	stopAndCheckGone(t, first)

	restarted := startCluster(t, binDir, dataDir)
	if got, want := restarted.RESTConfig().Host, first.RESTConfig().Host; got != want {
		t.Errorf("apiserver after restart at %s; want the previous address %s kept", got, want)
	}
	if err := newClient(t, restarted.RESTConfig()).Get(ctx, client.ObjectKeyFromObject(marker), &corev1.ConfigMap{}); err != nil {
		t.Errorf("marker after restart on the same data dir: %v; want it kept", err)
	}
	_, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir, DataDir: dataDir})
	if err == nil || !strings.Contains(err.Error(), "in use by another local cluster") {
		t.Errorf("Start on a data dir in use: err = %v; want it to say the dir is in use", err)
	}
	stopAndCheckGone(t, restarted)

	blockPreviousPorts(t, dataDir)
	moved := startCluster(t, binDir, dataDir)
	if moved.RESTConfig().Host == first.RESTConfig().Host {
		t.Fatalf("apiserver after restart at %s although that port was taken", moved.RESTConfig().Host)
	}
	c := newClient(t, moved.RESTConfig())
	sha = repo.Push(t, appManifests("after restart", false))
	src := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"}}
	if err := c.Get(ctx, client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatalf("GitRepository after restart: %v", err)
	}
	requestReconcile(t, c, src)
	waitApplied(t, c, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"}}, "main@sha1:"+sha)
	stopAndCheckGone(t, moved)
}

// blockPreviousPorts listens on every port recorded in dataDir/ports.json
// until the test ends, so the next Start must pick new ones.
func blockPreviousPorts(t *testing.T, dataDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "ports.json"))
	if err != nil {
		t.Fatalf("read recorded ports: %v", err)
	}
	var ports []int
	if err := json.Unmarshal(b, &ports); err != nil || len(ports) == 0 {
		t.Fatalf("recorded ports %s: %v", b, err)
	}
	for _, port := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("block port %d: %v", port, err)
		}
		t.Cleanup(func() { l.Close() })
	}
}

// TestStartWithoutBinaries checks that Start says what to do when the bin
// dir is empty.
func TestStartWithoutBinaries(t *testing.T) {
	_, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: t.TempDir(), DataDir: t.TempDir()})
	if !errors.Is(err, localcluster.ErrNotBuilt) {
		t.Fatalf("Start with an empty bin dir: err = %v; want ErrNotBuilt", err)
	}
	if !strings.Contains(err.Error(), "make localcluster") {
		t.Errorf("Start error %q does not say to run `make localcluster`", err)
	}
}

// startCluster starts a cluster and stops it when the test ends.
func startCluster(t *testing.T, binDir, dataDir string) *localcluster.Cluster {
	t.Helper()
	c, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: binDir, DataDir: dataDir})
	if err != nil {
		t.Fatalf("start cluster in %s: %v", dataDir, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the cluster in %s:\n%s", dataDir, c.Logs(30))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	return c
}

// stopAndCheckGone stops c and checks that every component process is gone
// and the apiserver port can be bound again.
func stopAndCheckGone(t *testing.T, c *localcluster.Cluster) {
	t.Helper()
	components := c.Components()
	if len(components) != 5 {
		t.Errorf("Components() = %d entries; want 5", len(components))
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, comp := range components {
		if err := syscall.Kill(comp.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) after Stop: kill -0 = %v; want ESRCH (process gone)", comp.Name, comp.PID, err)
		}
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done() not closed after Stop")
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() after a clean Stop = %v; want nil", err)
	}
	u, err := url.Parse(c.RESTConfig().Host)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Errorf("apiserver port %s still taken after Stop: %v", u.Host, err)
		return
	}
	l.Close()
}
