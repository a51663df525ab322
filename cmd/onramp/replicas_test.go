package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
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
	a := startCluster(t, "", "--database-url", url)
	b := startCluster(t, "", "--database-url", url)
	tok := a.token(t, "alice")
	name := uniqueName("replica")
	if code := call(t, "POST", a.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create on a = %d", code)
	}
	events, code := openStream(t, b, tok, name, -1)
	if code != 200 {
		t.Fatalf("stream from b = %d", code)
	}
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case e := <-events:
			if e.typ == onramp.EventPhase && strings.Contains(e.data, `"ready"`) {
				return
			}
		case <-deadline:
			t.Fatal("b's stream never delivered the ready phase written by the workers")
		}
	}
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
}

func TestMetrics(t *testing.T) {
	s := startMain(t, "serve", storetest.URL(t, "sqlite"), nil)
	tok := s.token(t, "alice")
	call(t, "POST", s.url+"/api/v1/projects", tok, createBody("metered"), nil)
	body := get(t, s.url+"/metrics", "")
	for _, want := range []string{"onramp_projects_created_total 1", `onramp_http_request_duration_seconds_count{route="POST /api/v1/projects",status="202"} 1`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
