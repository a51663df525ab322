package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store/storetest"
)

// runCLIInput is runCLI with stdin as the command's standard input.
func runCLIInput(t *testing.T, s *server, token string, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Stdin = &stdout, &stderr, stdin
	m.Getenv = func(k string) string {
		return map[string]string{"ONRAMP_SERVER": s.url, "ONRAMP_TOKEN": token}[k]
	}
	code := m.Run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

// TestGitConnectCLI connects to a real Gitea with `onramp git connect`:
// the token is checked at once (a bad one is refused naming the token),
// listed and shown without it, and never written to the server's log.
func TestGitConnectCLI(t *testing.T) {
	g := giteatest.Gitea(t)
	s := startMain(t, "serve", storetest.URL(t, storetest.Engines()[0]), nil, "--log-level", "debug")
	tok := s.token(t, "alice")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(g.Admin.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const bad = "0123456789abcdef0123456789abcdef01234567"

	code, out, errOut := runCLIInput(t, s, tok, strings.NewReader(bad+"\n"),
		"git", "connect", "acme", "--kind", "gitea", "--url", g.URL, "--owner", g.Admin.User, "--token-file", "-")
	if code != 1 || !strings.Contains(errOut, "refused the token") || !strings.Contains(errOut, "(token)") {
		t.Errorf("git connect with a bad token = %d\n%s%s; want 1 and the token refused", code, out, errOut)
	}
	code, out, errOut = runCLIInput(t, s, tok, nil,
		"git", "connect", "acme", "--kind", "gitea", "--url", g.URL, "--owner", g.Admin.User, "--token-file", file)
	if code != 0 || !strings.Contains(out, "git connection acme: gitea "+g.URL) {
		t.Fatalf("git connect = %d\n%s%s; want 0 and the connection", code, out, errOut)
	}
	if code, out, _ := runCLI(t, s, tok, "git", "list"); code != 0 || !strings.Contains(out, "acme") || !strings.Contains(out, g.Admin.User) {
		t.Errorf("git list = %d\n%s; want acme", code, out)
	}
	code, out, _ = runCLI(t, s, tok, "git", "show", "acme", "--output", "json")
	if code != 0 || !strings.Contains(out, `"login":"`+g.Admin.User+`"`) {
		t.Errorf("git show --output json = %d\n%s; want the connection with its login", code, out)
	}
	if strings.Contains(out, g.Admin.Token) {
		t.Error("git show answers the token")
	}
	if code, _, errOut := runCLI(t, s, s.token(t, "bob"), "git", "show", "acme"); code != 1 || !strings.Contains(errOut, "no git connection acme") {
		t.Errorf("git show acme as bob = %d %s; want 1, not found", code, errOut)
	}
	if code, out, _ := runCLI(t, s, tok, "git", "disconnect", "acme"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("git disconnect = %d %s", code, out)
	}
	logs := s.stderr.String() + s.stdout.String()
	if !strings.Contains(logs, "git connection created") {
		t.Errorf("the server logged no connection created; its log:\n%s", logs)
	}
	for _, secret := range []string{g.Admin.Token, bad} {
		if strings.Contains(logs, secret) {
			t.Errorf("the server's log holds a token")
		}
	}
}
