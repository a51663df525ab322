package gitprovider_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
)

// githubProvider connects to f as owner.
func (f *fakeGitHub) provider(t *testing.T, owner string) gitprovider.Provider {
	t.Helper()
	p, err := gitprovider.New(gitprovider.Connection{Kind: gitprovider.KindGitHub, URL: f.srv.URL, Owner: owner, Token: f.token})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGitHubCheck(t *testing.T) {
	f := newFakeGitHub(t)
	tests := []struct {
		name, owner, scopes string
		wantCode, wantMsg   string
		wantKind            string
	}{
		{name: "user", owner: "octo", scopes: "repo", wantKind: "user"},
		{name: "organisation", owner: "platform", scopes: "repo, delete_repo", wantKind: "organization"},
		{name: "fine-grained", owner: "platform", scopes: "-", wantKind: "organization"},
		{name: "no organisation", owner: "nowhere", scopes: "repo", wantCode: onramp.ENOTFOUND, wantMsg: "no organisation `nowhere`"},
		{name: "no repo scope", owner: "octo", scopes: "read:user", wantCode: onramp.EUNAUTHORIZED, wantMsg: "the token lacks the `repo` scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.scopes = tt.scopes
			id, err := f.provider(t, tt.owner).Check(ctx(t))
			if tt.wantCode == "" {
				if err != nil || id.OwnerKind != tt.wantKind || id.Login != "octo" {
					t.Fatalf("Check() = %+v, %v; want login octo, owner kind %s", id, err, tt.wantKind)
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

func TestGitHubRepository(t *testing.T) {
	f := newFakeGitHub(t)
	p := f.provider(t, "platform")
	repo, err := p.EnsureRepository(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !repo.Private || repo.SSHURL != "ssh://git@github.example/platform/shop.git" || repo.DefaultBranch != "main" {
		t.Errorf("EnsureRepository() = %+v; want private, ssh://git@github.example/platform/shop.git, main", repo)
	}
	if again, err := p.EnsureRepository(ctx(t), "shop"); err != nil || again.ID != repo.ID {
		t.Errorf("EnsureRepository() again = %d, %v; want %d", again.ID, err, repo.ID)
	}
	f.repos["platform/legacy"] = map[string]any{"id": 7, "name": "legacy", "description": "the team's", "owner": map[string]any{"login": "platform"}}
	_, err = p.EnsureRepository(ctx(t), "legacy")
	wantCode(t, err, onramp.ECONFLICT)
	if want := "repository platform/legacy already exists and was not created by onramp: choose another project name or remove it"; onramp.ErrorMessage(err) != want {
		t.Errorf("EnsureRepository(foreign) = %q; want %q", onramp.ErrorMessage(err), want)
	}
	wantCode(t, p.DeleteRepository(ctx(t), "legacy"), onramp.ECONFLICT)

	f.scopes = "repo"
	err = p.DeleteRepository(ctx(t), "shop")
	wantCode(t, err, onramp.EUNAUTHORIZED)
	if !strings.Contains(onramp.ErrorMessage(err), "`delete_repo`") {
		t.Errorf("DeleteRepository() without delete_repo: %q; want it to name the scope", onramp.ErrorMessage(err))
	}
	f.scopes = "repo, delete_repo"
	if err := p.DeleteRepository(ctx(t), "shop"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.repos["platform/shop"]; ok {
		t.Error("repository still there after DeleteRepository")
	}
	if err := p.DeleteRepository(ctx(t), "shop"); err != nil {
		t.Errorf("DeleteRepository() of a deleted repository: %v; want nil", err)
	}
}

func TestGitHubDeployKey(t *testing.T) {
	f := newFakeGitHub(t)
	p := f.provider(t, "platform")
	repo, err := p.EnsureRepository(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 { // two pages of keys that are not onramp's
		f.keys["platform/shop"] = append(f.keys["platform/shop"], map[string]any{"id": 1000 + i, "title": "ci-" + strconv.Itoa(i), "key": "ssh-ed25519 AAAA", "read_only": true})
	}
	cred, err := p.EnsureDeployCredential(ctx(t), repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.URL != repo.SSHURL || !strings.HasPrefix(cred.KnownHosts, "github.example ssh-ed25519 ") {
		t.Errorf("deploy credential for %s, known_hosts %q; want the SSH URL and GET /meta's key for github.example", cred.URL, cred.KnownHosts)
	}
	keys := f.keys["platform/shop"]
	last := keys[len(keys)-1]
	if len(keys) != 121 || last["read_only"] != true || last["title"] != "onramp-flux-shop" {
		t.Fatalf("%d keys, the new one %v; want 121 with a read-only onramp-flux-shop", len(keys), last["title"])
	}
	same, err := p.EnsureDeployCredential(ctx(t), repo, &cred)
	if err != nil || same.ID != cred.ID || len(f.keys["platform/shop"]) != 121 {
		t.Errorf("EnsureDeployCredential(existing) = %d, %v with %d keys; want the same key %d", same.ID, err, len(f.keys["platform/shop"]), cred.ID)
	}
	replaced, err := p.EnsureDeployCredential(ctx(t), repo, nil)
	if err != nil || replaced.ID == cred.ID || len(f.keys["platform/shop"]) != 121 {
		t.Errorf("EnsureDeployCredential(nil) = %d, %v with %d keys; want a new key replacing %d", replaced.ID, err, len(f.keys["platform/shop"]), cred.ID)
	}
	if err := p.RemoveDeployCredential(ctx(t), repo); err != nil || len(f.keys["platform/shop"]) != 120 {
		t.Errorf("RemoveDeployCredential() = %v with %d keys; want 120 left", err, len(f.keys["platform/shop"]))
	}
}

func TestGitHubWebhook(t *testing.T) {
	f := newFakeGitHub(t)
	p := f.provider(t, "platform")
	repo, err := p.EnsureRepository(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	const url, secret = "https://onramp.example/hooks/github", "per-repository-secret"
	for range 2 {
		if err := p.EnsureWebhook(ctx(t), repo, url, secret); err != nil {
			t.Fatal(err)
		}
	}
	if hooks := f.hooks["platform/shop"]; len(hooks) != 1 || hooks[0]["events"].([]any)[0] != "push" {
		t.Fatalf("webhooks after EnsureWebhook twice: %v; want one push webhook", hooks)
	}

	body := []byte(`{"ref":"refs/heads/main","after":"` + strings.Repeat("ab", 20) + `","repository":{"full_name":"platform/shop"}}`)
	delivery := func(header, value string) *http.Request {
		r, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		r.Header.Set("X-GitHub-Event", "push")
		r.Header.Set(header, value)
		return r
	}
	ev, err := p.VerifyWebhook(delivery("X-Hub-Signature-256", "sha256="+hmacHex(secret, body)), body, secret)
	if err != nil || ev.Revision() != "main@sha1:"+strings.Repeat("ab", 20) || ev.Repository != "platform/shop" {
		t.Fatalf("VerifyWebhook() = %+v, %v; want a push of main in platform/shop", ev, err)
	}
	for _, tt := range []struct{ header, value string }{
		{"X-Hub-Signature-256", "sha256=" + hmacHex("wrong", body)},
		{"X-Hub-Signature-256", ""},
		{"X-Hub-Signature", "sha1=0000"},
	} {
		_, err := p.VerifyWebhook(delivery(tt.header, tt.value), body, secret)
		wantCode(t, err, onramp.EUNAUTHORIZED)
	}
	if err := p.RemoveWebhook(ctx(t), repo, url); err != nil || len(f.hooks["platform/shop"]) != 0 {
		t.Errorf("RemoveWebhook() = %v, %d left; want none", err, len(f.hooks["platform/shop"]))
	}
}

// hmacHex is the hex HMAC-SHA256 of body with secret.
func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// TestGitHubFaults: bad credentials, 5xx, primary and secondary rate
// limits and no answer, each classified, none showing the token.
func TestGitHubFaults(t *testing.T) {
	reset := time.Now().Add(17 * time.Minute).Truncate(time.Second)
	tests := []struct {
		name      string
		answer    func(w http.ResponseWriter)
		wantCode  string
		wantRetry bool
		wantReset time.Time
		wantMsg   string
	}{
		{name: "bad credentials", answer: func(w http.ResponseWriter) { ghError(w, 401, "Bad credentials") },
			wantCode: onramp.EUNAUTHORIZED, wantMsg: "refused the token"},
		{name: "forbidden", answer: func(w http.ResponseWriter) { ghError(w, 403, "Resource not accessible by personal access token") },
			wantCode: onramp.EUNAUTHORIZED, wantMsg: "`repo` scope"},
		{name: "server error", answer: func(w http.ResponseWriter) { ghError(w, 502, "Server Error") },
			wantCode: onramp.EUNAVAILABLE, wantRetry: true},
		{name: "primary rate limit", answer: func(w http.ResponseWriter) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			ghError(w, 403, "API rate limit exceeded for user ID 1.")
		}, wantCode: onramp.EUNAVAILABLE, wantRetry: true, wantReset: reset},
		{name: "secondary rate limit", answer: func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "60")
			ghError(w, 403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
		}, wantCode: onramp.EUNAVAILABLE, wantRetry: true, wantReset: time.Now().Add(time.Minute)},
		{name: "too many requests", answer: func(w http.ResponseWriter) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			ghError(w, 429, "API rate limit exceeded")
		}, wantCode: onramp.EUNAVAILABLE, wantRetry: true, wantReset: reset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGitHub(t)
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
		f := newFakeGitHub(t)
		p := f.provider(t, "platform")
		f.srv.Close()
		_, err := p.EnsureRepository(ctx(t), "shop")
		wantCode(t, err, onramp.EUNAVAILABLE)
		wantRetry(t, err, true)
		wantNoSecret(t, err, f.token)
		if strings.Contains(fmt.Sprint(err), "Bearer") {
			t.Error("an error shows the Authorization header")
		}
	})
}

// TestGitHubUserOwner creates the repository in the token's own account
// (POST /user/repos).
func TestGitHubUserOwner(t *testing.T) {
	f := newFakeGitHub(t)
	repo, err := f.provider(t, "octo").EnsureRepository(ctx(t), "shop")
	if err != nil || repo.FullName() != "octo/shop" || !repo.Private {
		t.Fatalf("EnsureRepository() = %+v, %v; want private octo/shop", repo, err)
	}
}

// TestGitHubCommitMessage reads commits through a Project, as the jobs do.
func TestGitHubCommitMessage(t *testing.T) {
	f := newFakeGitHub(t)
	p := &gitprovider.Project{Provider: f.provider(t, "platform")}
	if _, err := p.CreateRepository(ctx(t), "shop"); err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("5e", 20)
	_, err := p.CommitMessage(ctx(t), "shop", "main@sha1:"+sha)
	wantCode(t, err, onramp.ENOTFOUND) // an empty repository
	f.commits["platform/shop"] = map[string]string{sha: "Render shop\n\nFrom template web.\n"}
	if got, err := p.CommitMessage(ctx(t), "shop", "main@sha1:"+sha); err != nil || got != "Render shop\n\nFrom template web." {
		t.Errorf("CommitMessage() = %q, %v; want %q", got, err, "Render shop\n\nFrom template web.")
	}
	_, err = p.CommitMessage(ctx(t), "shop", strings.Repeat("0", 40))
	wantCode(t, err, onramp.ENOTFOUND)
	f.fail = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("X-RateLimit-Remaining", "0")
		ghError(w, 403, "API rate limit exceeded for user ID 1.")
		return true
	}
	_, err = p.CommitMessage(ctx(t), "shop", sha)
	wantRetry(t, err, true)
}
