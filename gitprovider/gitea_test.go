package gitprovider_test

import (
	"net/http"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
)

// TestGiteaCheck checks a token the way `git connect` does.
func TestGiteaCheck(t *testing.T) {
	e := newGiteaEnv(t)
	id, err := e.p.Check(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if id.Login != e.g.Admin.User || id.OwnerKind != "user" {
		t.Errorf("Check() = %+v; want the admin as user owner", id)
	}

	_, err = giteaProvider(t, e.g, "platform-"+randomSuffix(), e.g.Admin.Token).Check(ctx(t))
	wantCode(t, err, onramp.ENOTFOUND)
	if !strings.Contains(onramp.ErrorMessage(err), "no organisation `platform-") {
		t.Errorf("Check() with a missing owner: %q; want it to name the missing organisation", onramp.ErrorMessage(err))
	}

	_, readOnly := e.token(t, "read:user", "read:repository")
	_, err = giteaProvider(t, e.g, e.g.Admin.User, readOnly).Check(ctx(t))
	wantCode(t, err, onramp.EUNAUTHORIZED)
	wantRetry(t, err, false)
	if !strings.Contains(onramp.ErrorMessage(err), "the token lacks the `write:user` scope") {
		t.Errorf("Check() with a read-only token: %q; want it to name the missing scope", onramp.ErrorMessage(err))
	}
	wantNoSecret(t, err, readOnly)
}

// TestGiteaRepository creates a repository, takes it again, refuses a
// foreign one and deletes.
func TestGiteaRepository(t *testing.T) {
	e := newGiteaEnv(t)
	name := projectName(t)
	repo, err := e.p.EnsureRepository(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := e.admin.GetRepo(e.g.Admin.User, name)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Private || got.ID != repo.ID || !strings.HasPrefix(got.Description, "Managed by onramp: project "+name+".") {
		t.Errorf("created repository: private %v, id %d, description %q; want private, id %d, onramp's mark", got.Private, got.ID, got.Description, repo.ID)
	}
	if repo.DefaultBranch != "main" || !strings.HasPrefix(repo.SSHURL, "ssh://git@127.0.0.1:") || !strings.HasPrefix(repo.CloneURL, e.g.URL) {
		t.Errorf("EnsureRepository() = %+v; want branch main, an ssh:// URL and an HTTP clone URL", repo)
	}

	again, err := e.p.EnsureRepository(ctx(t), name)
	if err != nil || again.ID != repo.ID {
		t.Fatalf("EnsureRepository() again = %d, %v; want the same repository %d", again.ID, err, repo.ID)
	}

	foreign := projectName(t)
	if _, _, err := e.admin.CreateRepo(gitea.CreateRepoOption{Name: foreign, Description: "the team's own"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.p.EnsureRepository(ctx(t), foreign)
	wantCode(t, err, onramp.ECONFLICT)
	want := "repository " + e.g.Admin.User + "/" + foreign + " already exists and was not created by onramp: choose another project name or remove it"
	if onramp.ErrorMessage(err) != want {
		t.Errorf("EnsureRepository(foreign) = %q; want %q", onramp.ErrorMessage(err), want)
	}
	wantCode(t, e.p.DeleteRepository(ctx(t), foreign), onramp.ECONFLICT)
	if _, _, err := e.admin.GetRepo(e.g.Admin.User, foreign); err != nil {
		t.Errorf("the foreign repository is gone after a refused delete: %v", err)
	}

	if err := e.p.DeleteRepository(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	if _, resp, _ := e.admin.GetRepo(e.g.Admin.User, name); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("repository still there after DeleteRepository")
	}
	if err := e.p.DeleteRepository(ctx(t), name); err != nil {
		t.Errorf("DeleteRepository() of a deleted repository: %v; want nil", err)
	}
}

// TestGiteaRevokedToken: a token that worked and was revoked is a
// permanent failure whose message says what to do.
func TestGiteaRevokedToken(t *testing.T) {
	e := newGiteaEnv(t)
	tokenName, token := e.token(t, "write:repository", "write:user")
	p := giteaProvider(t, e.g, e.g.Admin.User, token)
	if _, err := p.Check(ctx(t)); err != nil {
		t.Fatal(err)
	}
	repo, err := p.EnsureRepository(ctx(t), projectName(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.DeleteAccessToken(tokenName); err != nil {
		t.Fatal(err)
	}
	_, err = p.Push(ctx(t), repo, onramp.Files{"a": []byte("a")}, "")
	wantCode(t, err, onramp.EUNAUTHORIZED)
	wantRetry(t, err, false)
	wantNoSecret(t, err, token)
	_, err = p.EnsureRepository(ctx(t), projectName(t))
	wantCode(t, err, onramp.EUNAUTHORIZED)
	wantRetry(t, err, false)
	wantNoSecret(t, err, token)
	if msg := onramp.ErrorMessage(err); !strings.Contains(msg, "refused the token") || !strings.Contains(msg, "`write:repository`") {
		t.Errorf("error for a revoked token: %q; want it to say the token was refused and name the scopes", msg)
	}
	if _, ok := gitprovider.RetryAt(err); ok {
		t.Errorf("RetryAt(revoked token) ok; want a permanent error")
	}
}
