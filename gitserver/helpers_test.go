package gitserver_test

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/internal/testutil"
)

// credential is one user's access in testAuth.
type credential struct {
	project  string
	password string
	write    bool
}

// testAuth is the policy the tests plug into Server: each user belongs to
// one project, read-only or read-write, like onramp's per-project
// credentials.
type testAuth map[string]credential

func (a testAuth) AuthorizeGit(ctx context.Context, project, user, password string, write bool) error {
	c, ok := a[user]
	switch {
	case !ok || c.password != password:
		return onramp.Errorf(onramp.EUNAUTHORIZED, "wrong username or password")
	case c.project != project:
		return onramp.Errorf(onramp.ENOTFOUND, "repository %s not found", project)
	case write && !c.write:
		return onramp.Errorf(onramp.EUNAUTHORIZED, "%s may only read %s", user, project)
	}
	return nil
}

// testUsers are the users of the test server.
func testUsers() testAuth {
	return testAuth{
		"p-reader": {project: "p", password: "read-secret"},
		"p-writer": {project: "p", password: "write-secret", write: true},
		"q-writer": {project: "q", password: "q-secret", write: true},
		"ghost":    {project: "ghost", password: "ghost-secret", write: true}, // no repository on disk
	}
}

// env is a Git server on loopback and a Provider that writes its
// repositories.
type env struct {
	provider *gitserver.Provider
	users    testAuth
	url      string // the server's base URL, without credentials
	logs     *testutil.Buffer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	root := t.TempDir()
	users := testUsers()
	logs := &testutil.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := &gitserver.Server{Root: root, Auth: users, Logger: logger}
	mux := http.NewServeMux()
	mux.Handle("/git/", srv)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return &env{
		provider: &gitserver.Provider{Root: root, BaseURL: ts.URL + "/git"},
		users:    users,
		url:      ts.URL,
		logs:     logs,
	}
}

// repoURL is project's clone URL with user's credentials in it.
func (e *env) repoURL(user, project string) string {
	u, err := url.Parse(e.url + "/git/" + project + ".git")
	if err != nil {
		panic(err)
	}
	if user != "" {
		u.User = url.UserPassword(user, e.users[user].password)
	}
	return u.String()
}

// createAndCommit creates project's repository and commits files to it.
func (e *env) createAndCommit(t testing.TB, project string, files onramp.Files) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.provider.CreateRepository(ctx, project); err != nil {
		t.Fatalf("CreateRepository(%q) = %v", project, err)
	}
	rev, err := e.provider.Commit(ctx, project, files, "render")
	if err != nil {
		t.Fatalf("Commit(%q) = %v", project, err)
	}
	return rev
}

// git runs the git CLI in dir with a clean configuration and returns its
// combined output.
func git(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=", "SSH_ASKPASS=", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// mustGit runs git and fails the test if it fails.
func mustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// bareGit runs git on project's bare repository on disk.
func (e *env) bareGit(t testing.TB, project string, args ...string) string {
	t.Helper()
	return mustGit(t, e.provider.Root, append([]string{"--git-dir=" + project + ".git"}, args...)...)
}

// readTree returns the files under dir, outside .git, by slash path.
func readTree(t testing.TB, dir string) onramp.Files {
	t.Helper()
	files := onramp.Files{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return files
}

// diffFiles describes how got differs from want, or returns "".
func diffFiles(got, want onramp.Files) string {
	var diffs []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			diffs = append(diffs, "missing "+p)
		} else if string(g) != string(w) {
			diffs = append(diffs, "different "+p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	return strings.Join(diffs, ", ")
}

// sampleFiles is a small rendered project: nested directories, an empty
// file, and names ("deploy-a", "deploy.txt", "deploy/") whose order differs
// between files and directories in a git tree.
func sampleFiles() onramp.Files {
	return onramp.Files{
		"README.md":                                      []byte("# shop\n"),
		"deploy/base/kustomization.yaml":                 []byte("resources:\n- deployment.yaml\n"),
		"deploy/base/deployment.yaml":                    []byte("kind: Deployment\n"),
		"deploy/overlays/development/kustomization.yaml": []byte("resources:\n- ../../base\n"),
		"deploy/overlays/production/kustomization.yaml":  []byte("resources:\n- ../../base\n"),
		"deploy.txt":                                     []byte("text\n"),
		"deploy-a/x":                                     []byte("x\n"),
		"empty":                                          {},
	}
}
