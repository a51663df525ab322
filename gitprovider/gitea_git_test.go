package gitprovider_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/localgitea/giteatest"
)

// files is a rendered tree.
var files = onramp.Files{
	"README.md":                       []byte("# shop\n"),
	"base/kustomization.yaml":         []byte("resources: [configmap.yaml]\n"),
	"base/configmap.yaml":             []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop}\n"),
	"overlays/dev/kustomization.yaml": []byte("resources: [../../base]\n"),
}

// TestGiteaPush pushes a tree, pushes it again without a commit, keeps a
// commit pushed meanwhile with git, and reads the head.
func TestGiteaPush(t *testing.T) {
	e := newGiteaEnv(t)
	repo, err := e.p.EnsureRepository(ctx(t), projectName(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Head(ctx(t), repo); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Fatalf("Head() of an empty repository: %v; want not_found", err)
	}
	first, err := e.p.Push(ctx(t), repo, files, "Render shop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "main@sha1:") {
		t.Fatalf("Push() = %q; want main@sha1:<sha>", first)
	}
	if again, err := e.p.Push(ctx(t), repo, files, "Render shop"); err != nil || again != first {
		t.Fatalf("Push() of the same tree = %q, %v; want %q and no new commit", again, err, first)
	}

	theirs := gitCommitMeanwhile(t, e, repo)
	changed := onramp.Files{"README.md": []byte("# shop, v2\n")}
	third, err := e.p.Push(ctx(t), repo, changed, "Render shop again")
	if err != nil {
		t.Fatal(err)
	}
	commit, _, err := e.admin.GetSingleCommit(repo.Owner, repo.Name, strings.TrimPrefix(third, "main@sha1:"))
	if err != nil {
		t.Fatal(err)
	}
	if len(commit.Parents) != 1 || commit.Parents[0].SHA != theirs {
		t.Errorf("the commit after a git push has parents %v; want the pushed commit %s", commit.Parents, theirs)
	}
	if head, err := e.p.Head(ctx(t), repo); err != nil || head != third {
		t.Errorf("Head() = %q, %v; want %q", head, err, third)
	}
}

// TestGiteaCommitMessage reads the message of a pushed commit through a
// Project, as the jobs do.
func TestGiteaCommitMessage(t *testing.T) {
	e := newGiteaEnv(t)
	p := &gitprovider.Project{Provider: e.p}
	name := projectName(t)
	if _, err := p.CreateRepository(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	unknown := "main@sha1:" + strings.Repeat("0", 40)
	_, err := p.CommitMessage(ctx(t), name, unknown)
	wantCode(t, err, onramp.ENOTFOUND) // an empty repository
	rev, err := p.Commit(ctx(t), name, files, "Render shop\n\nFrom template web.")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.CommitMessage(ctx(t), name, rev); err != nil || got != "Render shop\n\nFrom template web." {
		t.Errorf("CommitMessage(%s) = %q, %v; want %q", rev, got, err, "Render shop\n\nFrom template web.")
	}
	_, err = p.CommitMessage(ctx(t), name, unknown)
	wantCode(t, err, onramp.ENOTFOUND)
}

// gitCommitMeanwhile clones repo with the git command, commits a file and
// pushes it, as a repository's owner would; it returns the new commit. The
// token travels in a header, never in a URL.
func gitCommitMeanwhile(t *testing.T, e *giteaEnv, repo gitprovider.Repo) string {
	t.Helper()
	dir := t.TempDir()
	auth := "http.extraHeader=Authorization: token " + e.g.Admin.Token
	run := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=owner", "GIT_AUTHOR_EMAIL=owner@localhost",
			"GIT_COMMITTER_NAME=owner", "GIT_COMMITTER_EMAIL=owner@localhost")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, strings.ReplaceAll(string(out), e.g.Admin.Token, "[token]"))
		}
		return strings.TrimSpace(string(out))
	}
	run("-c", auth, "clone", "-q", repo.CloneURL, ".")
	if err := os.WriteFile(filepath.Join(dir, "OWNERS"), []byte("team-shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "OWNERS")
	run("commit", "-q", "-m", "Add owners")
	run("-c", auth, "push", "-q", "origin", "main")
	return run("rev-parse", "HEAD")
}

// TestGiteaDeployKey installs a read-only deploy key, clones with it over
// Gitea's SSH server trusting only the known_hosts it came with, and is
// refused a push with it.
func TestGiteaDeployKey(t *testing.T) {
	e := newGiteaEnv(t)
	repo, err := e.p.EnsureRepository(ctx(t), projectName(t))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := e.p.Push(ctx(t), repo, files, "Render")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := e.p.EnsureDeployCredential(ctx(t), repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cred.KnownHosts != e.g.KnownHosts {
		t.Errorf("known_hosts %q; want Gitea's %q", cred.KnownHosts, e.g.KnownHosts)
	}
	data := cred.SecretData()
	if len(data["identity"]) == 0 || len(data["identity.pub"]) == 0 || string(data["known_hosts"]) != cred.KnownHosts {
		t.Errorf("SecretData() has keys without identity, identity.pub or known_hosts")
	}
	keys, _, err := e.admin.ListDeployKeys(repo.Owner, repo.Name, gitea.ListDeployKeysOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].ReadOnly || keys[0].Title != "onramp-flux-"+repo.Name {
		t.Fatalf("deploy keys after EnsureDeployCredential: %d; want one read-only key titled onramp-flux-%s", len(keys), repo.Name)
	}

	remote := sshRemote(t, cred)
	refs, err := remote.ListContext(ctx(t), &git.ListOptions{Auth: sshAuth(t, cred)})
	if err != nil {
		t.Fatalf("list refs over SSH with the deploy key: %v", err)
	}
	if head := findRef(refs, "refs/heads/main"); "main@sha1:"+head != rev {
		t.Errorf("main over SSH is %s; want %s", head, rev)
	}
	if err := sshFetch(t, remote, cred); err != nil {
		t.Fatalf("fetch over SSH with the deploy key: %v", err)
	}
	err = remote.PushContext(ctx(t), &git.PushOptions{RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/other"}, Auth: sshAuth(t, cred)})
	if err == nil {
		t.Errorf("push with the read-only deploy key succeeded; want it refused")
	}
	if b, _, _ := e.admin.GetRepoBranch(repo.Owner, repo.Name, "other"); b != nil {
		t.Errorf("a push with the read-only deploy key made branch other")
	}

	same, err := e.p.EnsureDeployCredential(ctx(t), repo, &cred)
	if err != nil || same.ID != cred.ID || string(same.Identity) != string(cred.Identity) {
		t.Errorf("EnsureDeployCredential(existing) = id %d, %v; want the same key %d", same.ID, err, cred.ID)
	}
	lost, err := e.p.EnsureDeployCredential(ctx(t), repo, nil)
	if err != nil || lost.ID == cred.ID {
		t.Fatalf("EnsureDeployCredential(nil) over an existing key = id %d, %v; want a new key", lost.ID, err)
	}
	if keys, _, _ := e.admin.ListDeployKeys(repo.Owner, repo.Name, gitea.ListDeployKeysOptions{}); len(keys) != 1 {
		t.Errorf("%d deploy keys after replacing one; want 1", len(keys))
	}
	if err := e.p.RemoveDeployCredential(ctx(t), repo); err != nil {
		t.Fatal(err)
	}
	if keys, _, _ := e.admin.ListDeployKeys(repo.Owner, repo.Name, gitea.ListDeployKeysOptions{}); len(keys) != 0 {
		t.Errorf("%d deploy keys after RemoveDeployCredential; want 0", len(keys))
	}
}

// sshRemote is a remote for the deploy credential's URL in memory.
func sshRemote(t *testing.T, cred gitprovider.DeployCredential) *git.Remote {
	return git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{cred.URL}})
}

// sshFetch fetches main with the deploy key.
func sshFetch(t *testing.T, remote *git.Remote, cred gitprovider.DeployCredential) error {
	return remote.FetchContext(ctx(t), &git.FetchOptions{RefSpecs: []config.RefSpec{"+refs/heads/main:refs/heads/main"}, Auth: sshAuth(t, cred)})
}

// sshAuth authenticates with the deploy key and trusts only its known_hosts,
// as Flux does.
func sshAuth(t *testing.T, cred gitprovider.DeployCredential) *gitssh.PublicKeys {
	t.Helper()
	signer, err := ssh.ParsePrivateKey(cred.Identity)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(cred.KnownHosts+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	callback, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	return &gitssh.PublicKeys{User: "git", Signer: signer, HostKeyCallbackHelper: gitssh.HostKeyCallbackHelper{HostKeyCallback: callback}}
}

// findRef returns the hash of the named ref, "" when missing.
func findRef(refs []*plumbing.Reference, name string) string {
	for _, r := range refs {
		if r.Name().String() == name {
			return r.Hash().String()
		}
	}
	return ""
}

// TestGiteaWebhook registers a webhook twice (one hook), receives the
// delivery of a push, verifies its signature and refuses a wrong one.
func TestGiteaWebhook(t *testing.T) {
	e := newGiteaEnv(t)
	type delivery struct {
		header http.Header
		body   []byte
	}
	deliveries := make(chan delivery, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		deliveries <- delivery{r.Header.Clone(), body}
	}))
	defer srv.Close()

	repo, err := e.p.EnsureRepository(ctx(t), projectName(t))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "webhook-secret-of-this-repository"
	url := srv.URL + "/hooks/gitea"
	for range 2 {
		if err := e.p.EnsureWebhook(ctx(t), repo, url, secret); err != nil {
			t.Fatal(err)
		}
	}
	hooks, _, err := e.admin.ListRepoHooks(repo.Owner, repo.Name, gitea.ListHooksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || !hooks[0].Active || strings.Join(hooks[0].Events, ",") != "push" {
		t.Fatalf("webhooks after EnsureWebhook twice: %d; want one active push webhook", len(hooks))
	}

	rev, err := e.p.Push(ctx(t), repo, files, "Render")
	if err != nil {
		t.Fatal(err)
	}
	var d delivery
	select {
	case d = <-deliveries:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivery within 30 s of a push")
	}
	req := &http.Request{Header: d.header}
	ev, err := e.p.VerifyWebhook(req, d.body, secret)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Revision() != rev || ev.Repository != repo.FullName() {
		t.Errorf("VerifyWebhook() = %+v (revision %q); want %s at %s", ev, ev.Revision(), repo.FullName(), rev)
	}
	_, err = e.p.VerifyWebhook(req, d.body, "another secret")
	wantCode(t, err, onramp.EUNAUTHORIZED)
	tampered := []byte(strings.Replace(string(d.body), rev[len("main@sha1:"):], strings.Repeat("1", 40), 1))
	_, err = e.p.VerifyWebhook(req, tampered, secret)
	wantCode(t, err, onramp.EUNAUTHORIZED)

	if err := e.p.RemoveWebhook(ctx(t), repo, url); err != nil {
		t.Fatal(err)
	}
	if hooks, _, _ := e.admin.ListRepoHooks(repo.Owner, repo.Name, gitea.ListHooksOptions{}); len(hooks) != 0 {
		t.Errorf("%d webhooks after RemoveWebhook; want 0", len(hooks))
	}
}

// TestGiteaStopped: with Gitea stopped every call is a retryable error, and
// the same calls succeed once it is back.
func TestGiteaStopped(t *testing.T) {
	opts := localgitea.Options{BinDir: giteatest.BinDir(t), DataDir: t.TempDir()}
	g, err := localgitea.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	p := giteaProvider(t, g, g.Admin.User, g.Admin.Token)
	name := projectName(t)
	g.Stop()

	_, err = p.EnsureRepository(ctx(t), name)
	wantCode(t, err, onramp.EUNAVAILABLE)
	wantRetry(t, err, true)
	wantNoSecret(t, err, g.Admin.Token)
	_, err = p.Push(ctx(t), gitprovider.Repo{Owner: g.Admin.User, Name: name, CloneURL: g.URL + "/" + g.Admin.User + "/" + name + ".git"}, files, "")
	wantRetry(t, err, true)

	g, err = localgitea.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	if _, err := p.EnsureRepository(ctx(t), name); err != nil {
		t.Fatalf("EnsureRepository() once Gitea is back: %v", err)
	}
}
