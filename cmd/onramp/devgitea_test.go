package main

import (
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/localgitea/giteatest"
)

// onramp dev --gitea runs a Gitea beside the control plane, gives the
// printed user the git connection "gitea" to it, and a project created on
// it becomes ready; it stops with everything on SIGTERM.
func TestDevGitea(t *testing.T) {
	clustertest.BinDir(t)
	giteaBin := giteatest.BinDir(t)
	addr := freeAddr(t)
	dev := subprocess(t, []string{"ONRAMP_GITEA_BIN=" + giteaBin}, "dev", "--gitea", "--data-dir", t.TempDir(), "--addr", addr, "--log-level", "warn")
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	url, tok, _ := devOutput(t, dev)
	out, _ := os.ReadFile(cmdLog(dev))
	m := regexp.MustCompile(`Gitea is running: (\S+)\s+sign in as (\S+) with the password \S+`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("onramp dev --gitea did not say where Gitea runs and how to sign in:\n%s", out)
	}
	var conn onramp.GitConnection
	if code := call(t, "GET", url+"/api/v1/git-connections/gitea", tok, nil, &conn); code != 200 || conn.URL != string(m[1]) || conn.Owner != string(m[2]) {
		t.Fatalf("git connection gitea = %d %+v; want one to %s as %s", code, conn, m[1], m[2])
	}
	name := uniqueName("devgitea")
	body := map[string]any{"name": name, "template": "web-service", "git": "gitea",
		"environments": []map[string]string{{"name": "development", "type": "development"}}}
	if code := call(t, "POST", url+"/api/v1/projects", tok, body, nil); code != 202 {
		t.Fatalf("create on gitea = %d; want 202", code)
	}
	waitPhase(t, &server{url: url}, tok, name, onramp.PhaseReady, 2*time.Minute)

	if err := dev.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dev.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("onramp dev --gitea on SIGTERM: %v; want a clean exit", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("onramp dev --gitea did not stop within 30 s of SIGTERM")
	}
}
