package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// Two onramp processes sharing PostgreSQL: a project created through one is
// streamed, live and complete, by the other.
func TestReplicasShareTheEventStream(t *testing.T) {
	if os.Getenv("ONRAMP_TEST_POSTGRES_URL") == "" {
		t.Skip("set ONRAMP_TEST_POSTGRES_URL: replicas share PostgreSQL")
	}
	url := storetest.URL(t, store.Postgres)
	// Replicas share the secret key that seals the credentials (with their
	// own data dirs, each would otherwise generate its own) and the
	// namespace of the status watcher's Lease.
	env := map[string]string{"KUBECONFIG": clustertest.Cluster(t).KubeconfigPath(), "ONRAMP_NAMESPACE": clustertest.Namespace(t),
		"ONRAMP_SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}
	a := startMain(t, "serve", url, env)
	b := startMain(t, "serve", url, env, "--data-dir", a.app.Config.DataDir) // one volume for the built-in Git server
	// A third with a key of its own is refused before it seals anything.
	var out bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr = &out, &out
	m.Getenv = func(string) string { return "" }
	if code := m.Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database-url", url}); code != 1 || !strings.Contains(out.String(), "same ONRAMP_SECRET_KEY") {
		t.Errorf("a replica with another secret key = %d %q; want refused, naming ONRAMP_SECRET_KEY", code, out.String())
	}
	tok := a.token(t, "alice")
	name := uniqueName("replica")
	if code := call(t, "POST", a.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create on a = %d", code)
	}
	events, code := openStream(t, b, tok, name, -1)
	if code != 200 {
		t.Fatalf("stream from b = %d", code)
	}
	waitStreamPhase(t, events, onramp.PhaseReady, 2*time.Minute) // written by whichever replica's workers and watcher
}

// A replica's event stream sees what another replica writes at once, not
// at its next poll: with b's poll set to an hour and no workers, cluster or
// watcher of its own, only a's commits (the job failing without a cluster)
// can wake b's stream, through PostgreSQL's notifications.
func TestStreamsWakeAcrossReplicas(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	env := map[string]string{"ONRAMP_SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))}
	a := startMain(t, "serve", url, env)
	b := startMain(t, "serve", url, env, "--workers", "0", "--event-poll", "1h")
	tok := a.token(t, "alice")
	name := uniqueName("across")
	if code := call(t, "POST", b.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create on b = %d", code)
	}
	events, code := openStream(t, b, tok, name, -1)
	if code != 200 {
		t.Fatalf("stream from b = %d", code)
	}
	waitStreamPhase(t, events, onramp.PhaseFailed, time.Minute) // written by a's worker
}

// The admin commands, through the real Main.
func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		m := NewMain()
		m.Stdout, m.Stderr = &out, &out
		m.Getenv = func(string) string { return "" }
		return m.Run(context.Background(), args), out.String()
	}
	if code, out := run("migrate", "--data-dir", dir); code != 0 || !strings.Contains(out, "database migrated (sqlite)") {
		t.Errorf("migrate = %d %q", code, out)
	}
	code, tok := run("token", "create", "--user", "carol", "--data-dir", dir)
	if code != 0 || !strings.HasPrefix(tok, "onr_") {
		t.Fatalf("token create = %d %q", code, tok)
	}
	db := storetest.OpenURL(t, "sqlite://"+filepath.Join(dir, "onramp.db"))
	if u, err := db.Authenticate(context.Background(), strings.TrimSpace(tok)); err != nil || u.Name != "carol" {
		t.Errorf("the printed token authenticates as %v, %v; want carol", u, err)
	}
	code, tok = run("token", "create", "--user", "carol", "--name", "ci", "--expires", "720h", "--data-dir", dir)
	if code != 0 || !strings.HasPrefix(tok, "onr_") {
		t.Fatalf("token create --name --expires = %d %q", code, tok)
	}
	if ts, err := db.ListTokens(context.Background(), "carol"); err != nil || len(ts) != 2 || ts[1].Name != "ci" || ts[1].ExpiresAt == nil ||
		ts[1].ExpiresAt.Sub(ts[1].CreatedAt) != 720*time.Hour {
		t.Errorf("carol's tokens = %v, %v; want the second named ci, expiring in 720h", ts, err)
	}
	if code, out := run("token", "create", "--user", "carol", "--expires", "-1h", "--data-dir", dir); code != 1 || !strings.Contains(out, "expires_in") {
		t.Errorf("token create --expires -1h = %d %q; want 1 and why", code, out)
	}
	if code, out := run("token", "create", "--data-dir", dir); code != 1 || !strings.Contains(out, "--user is required") {
		t.Errorf("token create without --user = %d %q", code, out)
	}
	if code, out := run("version"); code != 0 || !strings.HasPrefix(out, "onramp ") {
		t.Errorf("version = %d %q", code, out)
	}
	if code, out := run("frobnicate"); code != 2 || !strings.Contains(out, "unknown command") {
		t.Errorf("unknown command = %d %q", code, out)
	}
	if code, out := run("serve", "--database-url", "mysql://x"); code != 1 || !strings.Contains(out, "sqlite:///path") {
		t.Errorf("serve with a bad database URL = %d %q", code, out)
	}
	if code, out := run("serve", "--workers", "-1", "--data-dir", dir); code != 1 || !strings.Contains(out, "0 to run none") {
		t.Errorf("serve --workers -1 = %d %q", code, out)
	}
	if code, out := run("worker", "--workers", "0", "--data-dir", dir); code != 1 || !strings.Contains(out, "give 1 or more") {
		t.Errorf("worker --workers 0 = %d %q", code, out)
	}
	if code, out := run("serve", "--leader-lease", "5s", "--leader-renew", "5s", "--data-dir", dir); code != 1 || !strings.Contains(out, "lease duration 5s must be longer") {
		t.Errorf("serve --leader-lease 5s --leader-renew 5s = %d %q; want 1 and why", code, out)
	}
}
