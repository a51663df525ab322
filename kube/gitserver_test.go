package kube

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

// gitServer is a real Git smart-HTTP server on loopback: the system git's
// http-backend behind net/http/cgi, with basic auth checked in front, so
// that source-controller clones exactly as it would from onramp's server.
type gitServer struct {
	url, root  string
	user, pass string
}

// newGitServer starts a Git server that accepts only user:pass.
func newGitServer(t testing.TB, user, pass string) *gitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("the cluster tests serve Git with the system git: %v", err)
	}
	s := &gitServer{root: t.TempDir(), user: user, pass: pass}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(s.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h := &cgi.Handler{
			Path: gitPath,
			Args: []string{"http-backend"},
			Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "REMOTE_USER=" + u},
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// push creates the bare repository name.git holding one commit of files on
// main, pushed over HTTP with the server's credentials, and returns the
// clone URL and Flux's name for the revision, "main@sha1:<sha>".
func (s *gitServer) push(t testing.TB, name string, files map[string]string) (url, revision string) {
	t.Helper()
	runGit(t, "", "init", "--quiet", "--bare", "--initial-branch=main", filepath.Join(s.root, name+".git"))
	work := t.TempDir()
	runGit(t, work, "init", "--quiet", "--initial-branch=main")
	for path, content := range files {
		full := filepath.Join(work, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runGit(t, work, "add", "--all")
	runGit(t, work, "commit", "--quiet", "-m", "render template")
	url = s.url + "/" + name + ".git"
	authURL := strings.Replace(url, "http://", "http://"+s.user+":"+s.pass+"@", 1)
	runGit(t, work, "push", "--quiet", authURL, "main")
	return url, "main@sha1:" + strings.TrimSpace(runGit(t, work, "rev-parse", "HEAD"))
}

// runGit runs the system git in dir, isolated from any user configuration.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=onramp test", "GIT_AUTHOR_EMAIL=test@onramp.invalid",
		"GIT_COMMITTER_NAME=onramp test", "GIT_COMMITTER_EMAIL=test@onramp.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", args[0], err, out)
	}
	return string(out)
}

// overlayFiles is a rendered project: one overlay for development holding a
// ConfigMap, a kind that needs no controller to become what it says.
func overlayFiles(project string) map[string]string {
	return map[string]string{
		"deploy/overlays/development/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- configmap.yaml\n",
		"deploy/overlays/development/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + project + "-config\ndata:\n  greeting: hello\n",
	}
}
