package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/cli"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/templates"
)

// runInput is run with stdin as the command's standard input.
func runInput(url, token string, stdin io.Reader, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdout: &stdout, Stderr: &stderr, Stdin: stdin, Getenv: func(k string) string {
		return map[string]string{"ONRAMP_SERVER": url, "ONRAMP_TOKEN": token}[k]
	}}
	code := cli.Run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

// TestGitConnect connects to a real Gitea with `onramp git connect`: the
// token is checked at once (a bad one is refused naming the token), listed
// and shown without it, and never written to the server's log.
func TestGitConnect(t *testing.T) {
	g := giteatest.Gitea(t)
	db := storetest.Open(t, store.SQLite)
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := db.CreateToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := db.CreateToken(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	srv := &api.Server{Projects: db, Templates: tmpl, Registry: prometheus.NewRegistry(), Changed: db.Changed,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		GitConnections: db, GitChecker: gitprovider.Checker{}}
	srv.Auth = api.NewAuthLimiter(db, db, 0)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	url := ts.URL

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(g.Admin.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const bad = "0123456789abcdef0123456789abcdef01234567"

	code, out, errOut := runInput(url, tok, strings.NewReader(bad+"\n"),
		"git", "connect", "acme", "--kind", "gitea", "--url", g.URL, "--owner", g.Admin.User, "--token-file", "-")
	if code != 1 || !strings.Contains(errOut, "refused the token") || !strings.Contains(errOut, "(token)") {
		t.Errorf("git connect with a bad token = %d\n%s%s; want 1 and the token refused", code, out, errOut)
	}
	code, out, errOut = run(url, tok, "git", "connect", "acme", "--kind", "gitea", "--url", g.URL, "--owner", g.Admin.User, "--token-file", file)
	if code != 0 || !strings.Contains(out, "git connection acme: gitea "+g.URL) {
		t.Fatalf("git connect = %d\n%s%s; want 0 and the connection", code, out, errOut)
	}
	if code, out, _ := run(url, tok, "git", "list"); code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, g.Admin.User) {
		t.Errorf("git list = %d\n%s; want acme", code, out)
	}
	code, out, _ = run(url, tok, "git", "show", "acme", "--output", "json")
	if code != 0 || !strings.Contains(out, `"login":"`+g.Admin.User+`"`) {
		t.Errorf("git show --output json = %d\n%s; want the connection with its login", code, out)
	}
	if strings.Contains(out, g.Admin.Token) {
		t.Error("git show answers the token")
	}
	if code, _, errOut := run(url, bob, "git", "show", "acme"); code != 1 || !strings.Contains(errOut, "no git connection acme") {
		t.Errorf("git show acme as bob = %d %s; want 1, not found", code, errOut)
	}
	if code, out, _ := run(url, tok, "git", "disconnect", "acme"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("git disconnect = %d %s", code, out)
	}
	if !strings.Contains(logs.String(), "git connection created") {
		t.Errorf("the server logged no connection created; its log:\n%s", logs)
	}
	for _, secret := range []string{g.Admin.Token, bad} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the server's log holds a token")
		}
	}
}
