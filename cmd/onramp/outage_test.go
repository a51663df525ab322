package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localcluster"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store/storetest"
)

// With the apiserver stopped during setup_gitops, the job logs each failed
// attempt and retries; it completes once the apiserver is back, and never
// reports 100% while objects are missing. It runs on a control plane of
// its own so that stopping the apiserver disturbs no other test.
func TestApiserverOutageDuringSetup(t *testing.T) {
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{BinDir: clustertest.BinDir(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	var apiserver int
	for _, c := range cluster.Components() {
		if c.Name == localcluster.KubeAPIServer {
			apiserver = c.PID
		}
	}
	s := startMain(t, "serve", storetest.URL(t, "sqlite"), map[string]string{"KUBECONFIG": cluster.KubeconfigPath()}, "--job-timeout", "10s")
	tok := s.token(t, "alice")
	name := uniqueName("outage")

	// The repository's lock, taken here as another process would, holds
	// the job in create_repository, past preflight (which reads the
	// cluster): the apiserver stops before the objects are applied.
	gitRoot := filepath.Join(s.app.Config.DataDir, "git")
	if err := os.MkdirAll(filepath.Join(gitRoot, ".locks"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(gitRoot, ".locks", name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	waitUntil(t, time.Minute, "create_repository running", func() bool {
		p, _ := getProject(t, s, tok, name)
		return len(p.Steps) > 1 && p.Steps[1].Status == onramp.StepRunning
	})
	if err := syscall.Kill(apiserver, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(apiserver, syscall.SIGCONT)
		}
	}()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "two failed attempts logged", func() bool {
		return strings.Count(logText(t, s, tok, name), "failed:") >= 2
	})
	p, _ := getProject(t, s, tok, name)
	if p.Progress >= 100 || p.Phase != onramp.PhaseInitializing {
		t.Fatalf("with the apiserver stopped: %d%% %s; want initializing below 100%%", p.Progress, p.Phase)
	}
	// The owner pushes meanwhile: the next attempt keeps that commit
	// instead of committing the rendered files on top again.
	pushed := pushReadme(t, p.Repository.URL, tok)
	if err := syscall.Kill(apiserver, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	waitUntil(t, 2*time.Minute, "100% after the apiserver is back", func() bool {
		p, _ = getProject(t, s, tok, name)
		return p.Progress == 100
	})
	if p.GitOps.Namespaces != 3 || p.GitOps.Kustomizations != 3 {
		t.Errorf("after recovery: %+v", p.GitOps)
	}
	if p.Repository.Revision != pushed {
		t.Errorf("recorded revision after recovery %s; want the owner's push %s, kept", p.Repository.Revision, pushed)
	}
	logs := logText(t, s, tok, name)
	if !strings.Contains(logs, "attempt 1 of 10 failed") || !strings.Contains(logs, "retrying") {
		t.Errorf("log does not show the failed attempts:\n%s", logs)
	}
}

// pushReadme clones the repository at url as the owner, commits a change to
// README.md, pushes it and returns the pushed revision.
func pushReadme(t *testing.T, url, token string) string {
	t.Helper()
	dir := t.TempDir()
	git := gitIn(t, dir)
	git("clone", "-q", strings.Replace(url, "http://", "http://alice:"+token+"@", 1), ".")
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("Edited by the owner.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-qam", "Edit the README")
	git("push", "-q", "origin", "main")
	return "main@sha1:" + git("rev-parse", "HEAD")
}
