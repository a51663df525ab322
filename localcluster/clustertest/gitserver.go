package clustertest

import (
	"crypto/subtle"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GitServer is a real Git smart-HTTP server on loopback: the system git's
// http-backend behind net/http/cgi, with HTTP basic auth checked in front.
type GitServer struct {
	URL        string // http://127.0.0.1:PORT
	root       string // GIT_PROJECT_ROOT: bare repositories live here
	user, pass string
}

// NewGitServer starts a Git server that accepts only user:pass.
func NewGitServer(t testing.TB, user, pass string) *GitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("these tests serve Git with the system git: %v (apt-get install git)", err)
	}
	s := &GitServer{root: t.TempDir(), user: user, pass: pass}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(s.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		// With REMOTE_USER set, http-backend allows pushes (receive-pack).
		h := *backend
		h.Env = append(append([]string(nil), backend.Env...), "REMOTE_USER="+u)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// GitRepo is a bare repository on a GitServer plus a work tree to push from.
type GitRepo struct {
	server *GitServer
	URL    string // clone URL without credentials
	work   string
}

// NewRepo creates an empty bare repository name.git with branch main.
func (s *GitServer) NewRepo(t testing.TB, name string) *GitRepo {
	t.Helper()
	bare := filepath.Join(s.root, name+".git")
	git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	work := t.TempDir()
	git(t, work, "init", "--quiet", "--initial-branch=main")
	return &GitRepo{server: s, URL: s.URL + "/" + name + ".git", work: work}
}

// Push replaces the work tree with files (path → content), commits, pushes
// main over HTTP with the server's credentials and returns the commit SHA.
func (r *GitRepo) Push(t testing.TB, files map[string]string) string {
	t.Helper()
	entries, err := os.ReadDir(r.work)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(r.work, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, content := range files {
		full := filepath.Join(r.work, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, r.work, "add", "--all")
	git(t, r.work, "commit", "--quiet", "--allow-empty", "-m", "update manifests")
	authURL := strings.Replace(r.URL, "http://", "http://"+r.server.user+":"+r.server.pass+"@", 1)
	git(t, r.work, "push", "--quiet", "--force", authURL, "main")
	return strings.TrimSpace(git(t, r.work, "rev-parse", "HEAD"))
}

// git runs the system git in dir, isolated from the user's configuration,
// and returns its output; it fails t on error.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=onramp test", "GIT_AUTHOR_EMAIL=test@onramp.invalid",
		"GIT_COMMITTER_NAME=onramp test", "GIT_COMMITTER_EMAIL=test@onramp.invalid",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
