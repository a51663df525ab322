package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
)

// noRedirect is a client that shows redirects rather than following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// signIn signs in with token through the sign-in form and returns the
// session cookie it sets.
func signIn(t *testing.T, e *env, token string) *http.Cookie {
	t.Helper()
	resp, body := post(t, noRedirect, e.url+"/signin", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in = %d %s; want 303", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == onramp.SessionCookie {
			if c.Value == token || strings.Contains(c.Value, token) {
				t.Fatal("the session cookie holds the token")
			}
			return c
		}
	}
	t.Fatal("sign-in set no session cookie")
	return nil
}

// withCookie sends a request with the session cookie c.
func withCookie(t *testing.T, method, u string, c *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.AddCookie(c)
	return do(t, noRedirect, req)
}

// TestSignOutEndsSession checks that the API takes the cookie of a signed
// in browser, and refuses it at once after sign-out.
func TestSignOutEndsSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		c := signIn(t, e, e.token)
		if resp, body := withCookie(t, "GET", e.url+"/api/v1/projects", c); resp.StatusCode != http.StatusOK {
			t.Fatalf("API with the session cookie = %d %s; want 200", resp.StatusCode, body)
		}
		if resp, _ := withCookie(t, "POST", e.url+"/signout", c); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out = %d; want 303", resp.StatusCode)
		}
		if resp, body := withCookie(t, "GET", e.url+"/api/v1/projects", c); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("API with the cookie after sign-out = %d %s; want 401", resp.StatusCode, body)
		}
		if code, _ := e.do(t, "GET", "/api/v1/projects", "", ""); code != http.StatusOK {
			t.Errorf("the token after signing out = %d; want 200: signing out ends the session, not the token", code)
		}
	})
}

func TestTokensAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine)
		code, body := e.do(t, "POST", "/api/v1/tokens", "application/json", `{"name":"ci","expires_in":"720h"}`)
		var created onramp.NewToken
		if err := json.Unmarshal([]byte(body), &created); code != http.StatusCreated || err != nil || !strings.HasPrefix(created.Secret, "onr_") {
			t.Fatalf("POST /api/v1/tokens = %d %s; want 201 with the token", code, body)
		}
		if created.Name != "ci" || created.ExpiresAt == nil || created.ExpiresAt.Sub(created.CreatedAt) != 720*time.Hour {
			t.Errorf("created token = %+v; want ci, expiring in 720h", created.Token)
		}
		if resp, body := get(t, http.DefaultClient, e.url+"/api/v1/projects", created.Secret); resp.StatusCode != http.StatusOK {
			t.Fatalf("the new token = %d %s; want 200", resp.StatusCode, body)
		}

		code, body = e.do(t, "GET", "/api/v1/tokens", "", "")
		var list struct{ Tokens []onramp.Token }
		if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list.Tokens) != 2 || list.Tokens[1].ID != created.ID || list.Tokens[1].LastUsedAt == nil {
			t.Fatalf("GET /api/v1/tokens = %d %s; want alice's first token, then ci, used", code, body)
		}
		for _, secret := range []string{e.token, created.Secret} {
			if _, s, _ := strings.Cut(strings.TrimPrefix(secret, "onr_"), "_"); strings.Contains(body, s) {
				t.Errorf("the token list shows a secret: %s", body)
			}
		}
		for _, field := range []string{`"id"`, `"name"`, `"created_at"`, `"expires_at"`, `"last_used_at"`} {
			if !strings.Contains(body, field) {
				t.Errorf("the token list has no %s: %s", field, body)
			}
		}

		// Another user's token is not found, and stays valid.
		bob, err := e.db.CreateToken(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		if resp, body := send(t, "DELETE", e.url+"/api/v1/tokens/"+created.ID, bob); resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob revoking alice's token = %d %s; want 404", resp.StatusCode, body)
		}
		if resp, body := send(t, "GET", e.url+"/api/v1/tokens", bob); resp.StatusCode != 200 || strings.Contains(body, created.ID) {
			t.Errorf("bob's list = %d %s; want his only", resp.StatusCode, body)
		}
		if resp, body := send(t, "DELETE", e.url+"/api/v1/tokens/"+created.ID, e.token); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("revoke = %d %s; want 204", resp.StatusCode, body)
		}
		if resp, body := get(t, http.DefaultClient, e.url+"/api/v1/projects", created.Secret); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the revoked token = %d %s; want 401", resp.StatusCode, body)
		}
		if resp, body := send(t, "DELETE", e.url+"/api/v1/tokens/"+created.ID, e.token); resp.StatusCode != http.StatusNotFound {
			t.Errorf("revoke twice = %d %s; want 404", resp.StatusCode, body)
		}
		if strings.Contains(e.logs.String(), created.Secret) {
			t.Error("the log holds the token")
		}
	})
}

func TestCreateTokenRefuses(t *testing.T) {
	e := newEnv(t, store.SQLite)
	tests := []struct{ name, body, field string }{
		{"bad duration", `{"expires_in":"a month"}`, "expires_in"},
		{"negative", `{"expires_in":"-1h"}`, "expires_in"},
		{"number", `{"expires_in":3600}`, "expires_in"},
		{"long name", `{"name":"` + strings.Repeat("x", 101) + `"}`, "name"},
		{"control character", `{"name":"a\u0000b"}`, "name"},
	}
	for _, tt := range tests {
		code, body := e.do(t, "POST", "/api/v1/tokens", "application/json", tt.body)
		if b := errorBody(t, body); code != http.StatusUnprocessableEntity || b.Error.Field != tt.field {
			t.Errorf("%s: POST %s = %d %s; want 422 naming %s", tt.name, tt.body, code, body, tt.field)
		}
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	e := newEnv(t, store.SQLite)
	tok, err := e.db.IssueToken(context.Background(), "alice", onramp.TokenCreate{ExpiresIn: onramp.Duration(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, http.DefaultClient, e.url+"/api/v1/projects", tok.Secret); resp.StatusCode != http.StatusOK {
		t.Fatalf("the token before its expiry = %d %s; want 200", resp.StatusCode, body)
	}
	time.Sleep(time.Until(*tok.ExpiresAt))
	if resp, body := get(t, http.DefaultClient, e.url+"/api/v1/projects", tok.Secret); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the token after its expiry = %d %s; want 401", resp.StatusCode, body)
	}
}

// TestRevokedTokenRefusedByGit checks that the Git server refuses a
// revoked token at once.
func TestRevokedTokenRefusedByGit(t *testing.T) {
	e := newEnv(t, store.SQLite)
	if code, body := e.do(t, "POST", "/api/v1/projects", "application/json", validBody); code != 202 {
		t.Fatalf("create: %d %s", code, body)
	}
	tok, err := e.db.IssueToken(context.Background(), "alice", onramp.TokenCreate{Name: "git"})
	if err != nil {
		t.Fatal(err)
	}
	refs := e.url + "/git/shop.git/info/refs?service=git-receive-pack"
	if resp, body := gitAs(t, http.DefaultClient, refs, "alice", tok.Secret); resp.StatusCode == http.StatusUnauthorized {
		t.Fatalf("Git with the token = %d %s; want it let in", resp.StatusCode, body)
	}
	if err := e.db.RevokeToken(context.Background(), "alice", tok.ID); err != nil {
		t.Fatal(err)
	}
	if resp, body := gitAs(t, http.DefaultClient, refs, "alice", tok.Secret); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Git with the revoked token = %d %s; want 401", resp.StatusCode, body)
	}
}

// send sends a request without a body with token.
func send(t *testing.T, method, u, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, http.DefaultClient, req)
}
