package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// Replicas whose built-in Git server keeps its repositories on storage
// they do not share are refused at start, saying what to do; a replica on
// the same storage starts, and so does one whose projects all go to a Git
// provider.
func TestReplicasOnOtherGitStorageAreRefused(t *testing.T) {
	if os.Getenv("ONRAMP_TEST_POSTGRES_URL") == "" {
		t.Skip("set ONRAMP_TEST_POSTGRES_URL: replicas share PostgreSQL")
	}
	url := storetest.URL(t, store.Postgres)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	env := map[string]string{"ONRAMP_SECRET_KEY": key}
	a := startMain(t, "serve", url, env)
	shared := a.app.Config.DataDir

	code, out := runServe(t, env, "serve", "--data-dir", t.TempDir(), "--database-url", url)
	for _, want := range []string{"other storage", "shared volume", "ReadWriteMany", "ONRAMP_GIT_PROVIDER_KIND", "onramp git connect"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("a replica on other storage = %d %q; want 1 and %q", code, out, want)
		}
	}
	code, out = runServe(t, env, "worker", "--data-dir", t.TempDir(), "--database-url", url, "--git-url", a.url+"/git")
	if code != 1 || !strings.Contains(out, "other storage") {
		t.Errorf("a worker on other storage = %d %q; want refused", code, out)
	}

	startMain(t, "serve", url, env, "--data-dir", shared) // same storage: starts
	withProvider := map[string]string{"ONRAMP_SECRET_KEY": key, "ONRAMP_GIT_PROVIDER_KIND": "gitea",
		"ONRAMP_GIT_PROVIDER_URL": "https://git.example.com", "ONRAMP_GIT_PROVIDER_OWNER": "platform", "ONRAMP_GIT_PROVIDER_TOKEN": "secret"}
	startMain(t, "serve", url, withProvider) // every new repository on the provider: starts

	code, out = runServe(t, map[string]string{"ONRAMP_SECRET_KEY": key, "ONRAMP_GIT_PROVIDER_KIND": "gitea"}, "serve", "--data-dir", t.TempDir(), "--database-url", url)
	if code != 1 || !strings.Contains(out, "ONRAMP_GIT_PROVIDER_URL") {
		t.Errorf("a provider without its URL = %d %q; want 1 naming ONRAMP_GIT_PROVIDER_URL", code, out)
	}
}

// Processes on one new shared storage agree on its ID, however many
// create it at once.
func TestGitStorageIDIsCreatedOnce(t *testing.T) {
	root := filepath.Join(t.TempDir(), "git")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := gitStorageID(root)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("storage IDs %q; want one, the same for all", ids)
		}
	}
	if again, err := gitStorageID(root); err != nil || again != ids[0] {
		t.Errorf("the ID read again = %q, %v; want %q", again, err, ids[0])
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("%d files in the Git root; want only %s", len(entries), storageIDFile)
	}
}

// runServe runs a server command that is expected to stop at once, and
// returns its exit code and output.
func runServe(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &out, &out
	m.Getenv = func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, append(args, "--addr", "127.0.0.1:0")) }()
	select {
	case code := <-done:
		return code, out.String()
	case app := <-m.Started():
		cancel()
		<-done
		return 0, "started at " + app.URL
	}
}
