package gitprovider

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSSHCloneURL(t *testing.T) {
	tests := []struct {
		raw, wantURL, wantHost string
	}{
		{"git@github.com:platform/shop.git", "ssh://git@github.com/platform/shop.git", "github.com:22"},
		{"ssh://git@127.0.0.1:2222/platform/shop.git", "ssh://git@127.0.0.1:2222/platform/shop.git", "127.0.0.1:2222"},
		{"ssh://git@gitlab.example/group/sub/shop.git", "ssh://git@gitlab.example/group/sub/shop.git", "gitlab.example:22"},
	}
	for _, tt := range tests {
		url, host, err := sshCloneURL(tt.raw)
		if err != nil || url != tt.wantURL || host != tt.wantHost {
			t.Errorf("sshCloneURL(%q) = %q, %q, %v; want %q, %q", tt.raw, url, host, err, tt.wantURL, tt.wantHost)
		}
	}
	for _, raw := range []string{"", "https://github.com/platform/shop.git", "no-colon"} {
		if _, _, err := sshCloneURL(raw); err == nil {
			t.Errorf("sshCloneURL(%q) succeeded; want an error", raw)
		}
	}
}

func TestPushEventRevision(t *testing.T) {
	sha := strings.Repeat("a1", 20)
	tests := []struct {
		name string
		ev   PushEvent
		want string
	}{
		{"branch push", PushEvent{Event: "push", Branch: "main", After: sha}, "main@sha1:" + sha},
		{"branch deleted", PushEvent{Event: "push", Branch: "main", After: strings.Repeat("0", 40)}, ""},
		{"tag", PushEvent{Event: "push", After: sha}, ""},
		{"ping", PushEvent{Event: "ping"}, ""},
	}
	for _, tt := range tests {
		if got := tt.ev.Revision(); got != tt.want {
			t.Errorf("%s: Revision() = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestDecodePushTag(t *testing.T) {
	ev, err := decodePush("push", []byte(`{"ref":"refs/tags/v1","after":"`+strings.Repeat("b", 40)+`"}`))
	if err != nil || ev.Branch != "" || ev.Revision() != "" {
		t.Errorf("decodePush(tag) = %+v, %v; want no branch and no revision", ev, err)
	}
}

// TestSecretsNotPrinted: a connection's token and a credential's secret
// halves never show when printed or logged.
func TestSecretsNotPrinted(t *testing.T) {
	conn := Connection{Kind: KindGitea, URL: "https://git.acme.dev", Owner: "platform", Token: "tok-very-secret"}
	identity, public, err := newDeployKey("onramp-flux-shop")
	if err != nil {
		t.Fatal(err)
	}
	cred := DeployCredential{Title: "onramp-flux-shop", URL: "ssh://git@git.acme.dev/platform/shop.git", Identity: identity, PublicKey: public, Password: "deploy-token-secret"}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("connect", "conn", conn, "cred", cred)
	shown := fmt.Sprintf("%v %+v %#v %s %v %+v %#v %s", conn, conn, conn, conn, cred, cred, cred, cred) + logged.String()
	for _, secret := range []string{conn.Token, string(identity[40:80]), cred.Password} {
		if strings.Contains(shown, secret) {
			t.Errorf("a secret shows in %q", shown)
		}
	}
}

// TestNew checks the connection's fields and where each client points.
func TestNew(t *testing.T) {
	for _, c := range []Connection{
		{Kind: "bitbucket", URL: "https://bitbucket.org", Owner: "o", Token: "t"},
		{Kind: KindGitea, URL: "https://git.acme.dev", Token: "t"},
		{Kind: KindGitea, URL: "https://git.acme.dev", Owner: "o"},
		{Kind: KindGitHub, URL: "not a url", Owner: "o", Token: "t"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%v) succeeded; want an error", c)
		}
	}
	tests := []struct{ url, wantAPI string }{
		{"https://github.com", "https://api.github.com/"},
		{"https://github.acme.dev/", "https://github.acme.dev/api/v3/"},
	}
	for _, tt := range tests {
		p, err := New(Connection{Kind: KindGitHub, URL: tt.url, Owner: "o", Token: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.(*githubProvider).client.BaseURL(); got != tt.wantAPI {
			t.Errorf("GitHub API for %s = %s; want %s", tt.url, got, tt.wantAPI)
		}
	}
	p, err := New(Connection{Kind: KindGitLab, URL: "https://gitlab.acme.dev/", Owner: "o", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*gitlabProvider).client.BaseURL().String(); got != "https://gitlab.acme.dev/api/v4/" {
		t.Errorf("GitLab API = %s; want https://gitlab.acme.dev/api/v4/", got)
	}
}
