package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"k8s.io/client-go/tools/clientcmd"
)

// onramp dev, as a user runs it: it serves /readyz as ready with its own
// control plane, prints a working token, refuses a second run on the same
// data dir, stops cleanly on SIGTERM leaving no process behind, and on a
// restart finds the same projects and cluster objects.
func TestDev(t *testing.T) {
	clustertest.BinDir(t) // skips, or fails in CI, when the control plane is not built
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	args := []string{"dev", "--data-dir", dataDir, "--addr", addr, "--log-level", "warn"}
	dev := subprocess(t, nil, args...)
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	url, tok, kubeconfig := devOutput(t, dev)
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	if code := call(t, "GET", url+"/readyz", "", nil, &ready); code != 200 || !ready.Ready || ready.Checks["cluster"] != "ok" || ready.Checks["database"] != "ok" {
		t.Fatalf("readyz = %d %+v; want ready with database and cluster", code, ready)
	}
	s := &server{url: url}
	name := uniqueName("dev")
	if code := call(t, "POST", url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create with the printed token = %d", code)
	}
	waitPhase(t, s, tok, name, onramp.PhaseReady, 2*time.Minute)

	second := subprocess(t, nil, args...)
	err := second.Run()
	if out, _ := os.ReadFile(cmdLog(second)); err == nil || !strings.Contains(string(out), "in use by another") {
		t.Errorf("second onramp dev on the same data dir: %v; want a refusal saying it is in use:\n%s", err, out)
	}

	if err := dev.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dev.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("onramp dev exited with %v after SIGTERM; want a clean exit", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("onramp dev did not stop within 30s of SIGTERM")
	}
	if left := processesUsing(dataDir); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}

	again := subprocess(t, nil, args...)
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	url, tok2, _ := devOutput(t, again)
	s.url = url
	p := waitPhase(t, s, tok2, name, onramp.PhaseReady, time.Minute)
	if p.GitOps.Kustomizations != 3 {
		t.Errorf("after restart: %+v", p.GitOps)
	}
	if objs := countObjects(t, kubeconfig, name); objs != 18 {
		t.Errorf("after restart the cluster holds %d of the project's objects; want 18", objs)
	}
	again.Process.Signal(syscall.SIGTERM)
	again.Wait()
}

// devOutput waits for onramp dev to print its URL, token and kubeconfig.
func devOutput(t *testing.T, cmd *exec.Cmd) (url, token, kubeconfig string) {
	t.Helper()
	re := regexp.MustCompile(`export ONRAMP_SERVER=(\S+)\s+export ONRAMP_TOKEN=(\S+)\s+export KUBECONFIG=(\S+)`)
	waitUntil(t, 5*time.Minute, "onramp dev ready", func() bool {
		b, _ := os.ReadFile(cmdLog(cmd))
		if m := re.FindStringSubmatch(string(b)); m != nil {
			url, token, kubeconfig = m[1], m[2], m[3]
		}
		return token != ""
	})
	if code := call(t, "GET", url+"/api/v1/projects", token, nil, nil); code != http.StatusOK {
		t.Fatalf("the printed token does not work: %d", code)
	}
	return url, token, kubeconfig
}

func cmdLog(cmd *exec.Cmd) string { return cmd.Stdout.(*os.File).Name() }

// countObjects counts the project's objects in the cluster of kubeconfig.
func countObjects(t *testing.T, kubeconfig, project string) int {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	left, err := k.Remaining(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return len(left)
}

// processesUsing lists running processes whose command line mentions dir.
func processesUsing(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
