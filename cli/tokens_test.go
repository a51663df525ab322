package cli_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/cli"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/templates"
)

// server is the API over a real SQLite database, with alice's token.
func server(t *testing.T) (url string, db *store.DB, token string) {
	t.Helper()
	db = storetest.Open(t, store.SQLite)
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	token, err = db.CreateToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{Projects: db, Team: db, Templates: tmpl, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Changed: db.Changed, Recheck: 100 * time.Millisecond}
	srv.Auth = api.NewAuthLimiter(db, db, 0)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, db, token
}

// run runs a client command with token and returns its exit code, stdout
// and stderr.
func run(url, token string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		return map[string]string{"ONRAMP_SERVER": url, "ONRAMP_TOKEN": token}[k]
	}}
	code := cli.Run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

func TestTokenListAndRevoke(t *testing.T) {
	url, db, token := server(t)
	ci, err := db.IssueToken(context.Background(), "alice", onramp.TokenCreate{Name: "ci", ExpiresIn: onramp.Duration(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(url, token, "token", "list")
	if code != 0 || !strings.Contains(out, "LAST USED") || !strings.Contains(out, ci.ID) || !strings.Contains(out, "ci") {
		t.Fatalf("token list = %d\n%s%s\nwant a table with the ci token", code, out, errOut)
	}
	if _, secret, _ := strings.Cut(strings.TrimPrefix(ci.Secret, "onr_"), "_"); strings.Contains(out, secret) {
		t.Errorf("token list shows a secret:\n%s", out)
	}
	if code, out, _ := run(url, token, "token", "list", "--output", "json"); code != 0 || !strings.Contains(out, `"tokens"`) {
		t.Errorf("token list --output json = %d %s", code, out)
	}
	if code, out, errOut := run(url, token, "token", "revoke", ci.ID); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke = %d %s%s; want it revoked", code, out, errOut)
	}
	if code, _, errOut := run(url, ci.Secret, "token", "list"); code != cli.ExitFailed || !strings.Contains(errOut, "invalid API token") {
		t.Errorf("token list with the revoked token = %d %s; want 1 and the reason", code, errOut)
	}
	if code, _, errOut := run(url, token, "token", "revoke", ci.ID); code != cli.ExitFailed || !strings.Contains(errOut, "token list") {
		t.Errorf("token revoke twice = %d %s; want 1 and where to find IDs", code, errOut)
	}
	if code, _, _ := run(url, token, "token", "revoke"); code != cli.ExitUsage {
		t.Errorf("token revoke without an ID = %d; want %d", code, cli.ExitUsage)
	}
}

// TestStreamEndsWithItsToken checks that a client following a project
// stops with the server's reason when its token is revoked, rather than
// reconnecting.
func TestStreamEndsWithItsToken(t *testing.T) {
	url, db, token := server(t)
	if code, out, errOut := run(url, token, "project", "create", "shop", "--env", "development", "--param", "image=nginx"); code != 0 {
		t.Fatalf("project create = %d %s%s", code, out, errOut)
	}
	tok, err := db.IssueToken(context.Background(), "alice", onramp.TokenCreate{Name: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	c := &cli.Client{Server: url, Token: tok.Secret, HTTP: http.DefaultClient}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Stream(ctx, "shop", func(e cli.Event) (bool, error) {
		if e.Type == onramp.EventSnapshot {
			return false, db.RevokeToken(ctx, "alice", tok.ID)
		}
		return false, nil
	})
	var appErr *onramp.Error
	if !errors.As(err, &appErr) || appErr.Code != onramp.EUNAUTHORIZED {
		t.Errorf("Stream after its token was revoked = %v; want the server's unauthorized error", err)
	}
}
