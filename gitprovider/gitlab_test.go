package gitprovider_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
)

// provider connects to f as owner.
func (f *fakeGitLab) provider(t *testing.T, owner string) gitprovider.Provider {
	t.Helper()
	p, err := gitprovider.New(gitprovider.Connection{Kind: gitprovider.KindGitLab, URL: f.srv.URL, Owner: owner, Token: f.token})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGitLabCheck(t *testing.T) {
	f := newFakeGitLab(t)
	tests := []struct {
		name, owner       string
		scopes            []string
		wantCode, wantMsg string
		wantKind          string
	}{
		{name: "user", owner: "alice", scopes: []string{"api"}, wantKind: "user"},
		{name: "group", owner: "platform", scopes: []string{"api", "write_repository"}, wantKind: "group"},
		{name: "no group", owner: "nowhere", scopes: []string{"api"}, wantCode: onramp.ENOTFOUND, wantMsg: "no group `nowhere`"},
		{name: "no api scope", owner: "platform", scopes: []string{"read_api", "write_repository"}, wantCode: onramp.EUNAUTHORIZED, wantMsg: "the token lacks the `api` scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.scopes = tt.scopes
			id, err := f.provider(t, tt.owner).Check(ctx(t))
			if tt.wantCode == "" {
				if err != nil || id.OwnerKind != tt.wantKind || id.Login != "alice" {
					t.Fatalf("Check() = %+v, %v; want login alice, owner kind %s", id, err, tt.wantKind)
				}
				return
			}
			wantCode(t, err, tt.wantCode)
			if !strings.Contains(onramp.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("Check() = %q; want it to say %q", onramp.ErrorMessage(err), tt.wantMsg)
			}
		})
	}
}

func TestGitLabRepository(t *testing.T) {
	f := newFakeGitLab(t)
	p := f.provider(t, "platform")
	repo, err := p.EnsureRepository(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !repo.Private || repo.FullName() != "platform/shop" || repo.SSHURL != "ssh://git@gitlab.example/platform/shop.git" {
		t.Errorf("EnsureRepository() = %+v; want private platform/shop", repo)
	}
	if again, err := p.EnsureRepository(ctx(t), "shop"); err != nil || again.ID != repo.ID {
		t.Errorf("EnsureRepository() again = %d, %v; want %d", again.ID, err, repo.ID)
	}
	f.projects["platform/legacy"] = map[string]any{"id": int64(9), "path": "legacy", "path_with_namespace": "platform/legacy", "description": ""}
	_, err = p.EnsureRepository(ctx(t), "legacy")
	wantCode(t, err, onramp.ECONFLICT)
	if want := "repository platform/legacy already exists and was not created by onramp: choose another project name or remove it"; onramp.ErrorMessage(err) != want {
		t.Errorf("EnsureRepository(foreign) = %q; want %q", onramp.ErrorMessage(err), want)
	}
	wantCode(t, p.DeleteRepository(ctx(t), "legacy"), onramp.ECONFLICT)
	if err := p.DeleteRepository(ctx(t), "shop"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.projects["platform/shop"]; ok {
		t.Error("project still there after DeleteRepository")
	}
	if err := p.DeleteRepository(ctx(t), "shop"); err != nil {
		t.Errorf("DeleteRepository() of a deleted project: %v; want nil", err)
	}
}

func TestGitLabDeployToken(t *testing.T) {
	f := newFakeGitLab(t)
	p := f.provider(t, "platform")
	repo, err := p.EnsureRepository(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 130 { // two pages of tokens that are not onramp's
		f.tokens[repo.ID] = append(f.tokens[repo.ID], map[string]any{"id": 2000 + i, "name": "ci-" + strconv.Itoa(i), "scopes": []string{"read_registry"}})
	}
	cred, err := p.EnsureDeployCredential(ctx(t), repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := cred.SecretData()
	if cred.URL != repo.CloneURL || !strings.HasPrefix(string(data["username"]), "gitlab+deploy-token-") || len(data["password"]) == 0 || len(data) != 2 {
		t.Errorf("deploy credential for %s with secret keys %d; want HTTPS basic auth for %s", cred.URL, len(data), repo.CloneURL)
	}
	tokens := f.tokens[repo.ID]
	last := tokens[len(tokens)-1]
	if scopes, _ := last["scopes"].([]any); len(tokens) != 131 || len(scopes) != 1 || scopes[0] != "read_repository" {
		t.Fatalf("%d tokens, the new one with scopes %v; want 131, read_repository only", len(tokens), last["scopes"])
	}
	same, err := p.EnsureDeployCredential(ctx(t), repo, &cred)
	if err != nil || same.ID != cred.ID || same.Password != cred.Password || len(f.tokens[repo.ID]) != 131 {
		t.Errorf("EnsureDeployCredential(existing) = %d, %v; want the same token %d", same.ID, err, cred.ID)
	}
	replaced, err := p.EnsureDeployCredential(ctx(t), repo, nil)
	if err != nil || replaced.ID == cred.ID || len(f.tokens[repo.ID]) != 131 {
		t.Errorf("EnsureDeployCredential(nil) = %d, %v with %d tokens; want a new token replacing %d", replaced.ID, err, len(f.tokens[repo.ID]), cred.ID)
	}
	if err := p.RemoveDeployCredential(ctx(t), repo); err != nil || len(f.tokens[repo.ID]) != 130 {
		t.Errorf("RemoveDeployCredential() = %v, %d left; want 130", err, len(f.tokens[repo.ID]))
	}
}

func TestGitLabWebhook(t *testing.T) {
	f := newFakeGitLab(t)
	p := f.provider(t, "platform")
	repo, err := p.EnsureRepository(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	const url, secret = "https://onramp.example/hooks/gitlab", "per-repository-secret"
	for range 2 {
		if err := p.EnsureWebhook(ctx(t), repo, url, secret); err != nil {
			t.Fatal(err)
		}
	}
	if hooks := f.hooks[repo.ID]; len(hooks) != 1 || hooks[0]["push_events"] != true || hooks[0]["token"] != secret {
		t.Fatalf("%d webhooks after EnsureWebhook twice; want one push webhook with the secret as token", len(hooks))
	}
	body := []byte(`{"object_kind":"push","ref":"refs/heads/main","after":"` + strings.Repeat("cd", 20) + `","project":{"path_with_namespace":"platform/shop"}}`)
	delivery := func(token string) *http.Request {
		r, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		r.Header.Set("X-Gitlab-Event", "Push Hook")
		r.Header.Set("X-Gitlab-Token", token)
		return r
	}
	ev, err := p.VerifyWebhook(delivery(secret), body, secret)
	if err != nil || ev.Revision() != "main@sha1:"+strings.Repeat("cd", 20) || ev.Repository != "platform/shop" {
		t.Fatalf("VerifyWebhook() = %+v, %v; want a push of main in platform/shop", ev, err)
	}
	for _, token := range []string{"wrong", ""} {
		_, err := p.VerifyWebhook(delivery(token), body, secret)
		wantCode(t, err, onramp.EUNAUTHORIZED)
	}
	if err := p.RemoveWebhook(ctx(t), repo, url); err != nil || len(f.hooks[repo.ID]) != 0 {
		t.Errorf("RemoveWebhook() = %v, %d left; want none", err, len(f.hooks[repo.ID]))
	}
}

// TestGitLabFaults: 401, 403 insufficient_scope, 5xx, 429 with
// RateLimit-Reset and Retry-After, no answer.
func TestGitLabFaults(t *testing.T) {
	reset := time.Now().Add(9 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter)
		wantCode  string
		wantRetry bool
		wantReset time.Time
		wantMsg   string
	}{
		{name: "unauthorized", answer: func(w http.ResponseWriter) { glError(w, 401, "401 Unauthorized") },
			wantCode: onramp.EUNAUTHORIZED, wantMsg: "refused the token"},
		{name: "insufficient scope", answer: func(w http.ResponseWriter) {
			glJSON(w, 403, map[string]any{"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the access token.", "scope": "api"})
		}, wantCode: onramp.EUNAUTHORIZED, wantMsg: "`api` scope"},
		{name: "server error", answer: func(w http.ResponseWriter) { glError(w, 503, "503 Service Unavailable") },
			wantCode: onramp.EUNAVAILABLE, wantRetry: true},
		{name: "rate limit reset", answer: func(w http.ResponseWriter) {
			w.Header().Set("RateLimit-Remaining", "0")
			w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			glError(w, 429, "Retry later")
		}, wantCode: onramp.EUNAVAILABLE, wantRetry: true, wantReset: reset},
		{name: "retry after", answer: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "30")
			w.Header().Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			glError(w, 429, "Retry later")
		}, wantCode: onramp.EUNAVAILABLE, wantRetry: true, wantReset: time.Now().Add(30 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitLab(t)
			f.fail = func(w http.ResponseWriter, r *http.Request) bool { tt.answer(w); return true }
			_, err := f.provider(t, "platform").EnsureRepository(ctx(t), "shop")
			wantCode(t, err, tt.wantCode)
			wantRetry(t, err, tt.wantRetry)
			wantNoSecret(t, err, f.token)
			at, ok := gitprovider.RetryAt(err)
			if ok != tt.wantRetry || (!tt.wantReset.IsZero() && at.Sub(tt.wantReset).Abs() > 2*time.Second) {
				t.Errorf("RetryAt() = %v, %v; want %v, %v", at, ok, tt.wantReset, tt.wantRetry)
			}
			if !strings.Contains(onramp.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("message %q; want it to say %q", onramp.ErrorMessage(err), tt.wantMsg)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		f := newFakeGitLab(t)
		p := f.provider(t, "platform")
		f.srv.Close()
		_, err := p.EnsureRepository(ctx(t), "shop")
		wantCode(t, err, onramp.EUNAVAILABLE)
		wantRetry(t, err, true)
		wantNoSecret(t, err, f.token)
	})
}

// TestGitLabUserOwner creates the project in the token's own namespace (no
// namespace_id).
func TestGitLabUserOwner(t *testing.T) {
	f := newFakeGitLab(t)
	repo, err := f.provider(t, "alice").EnsureRepository(ctx(t), "shop")
	if err != nil || repo.FullName() != "alice/shop" || !repo.Private {
		t.Fatalf("EnsureRepository() = %+v, %v; want private alice/shop", repo, err)
	}
}

// TestGitLabCommitMessage reads commits through a Project, as the jobs do.
func TestGitLabCommitMessage(t *testing.T) {
	f := newFakeGitLab(t)
	p := &gitprovider.Project{Provider: f.provider(t, "platform")}
	if _, err := p.CreateRepository(ctx(t), "shop"); err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("5e", 20)
	_, err := p.CommitMessage(ctx(t), "shop", "main@sha1:"+sha)
	wantCode(t, err, onramp.ENOTFOUND)
	f.commits[f.projects["platform/shop"]["id"].(int64)] = map[string]string{sha: "Render shop\n"}
	if got, err := p.CommitMessage(ctx(t), "shop", "main@sha1:"+sha); err != nil || got != "Render shop" {
		t.Errorf("CommitMessage() = %q, %v; want %q", got, err, "Render shop")
	}
}
