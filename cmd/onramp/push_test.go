package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/store/storetest"
)

// Commits the owner pushes are deployed at once and judged at their own
// revision: a commit that moves the overlay away turns the project degraded
// with a hint naming the paths that exist; the fix turns it ready again.
func TestPushedCommits(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	name := readyProject(t, s, tok)
	p, _ := getProject(t, s, tok, name)
	dir := t.TempDir()
	git := gitIn(t, dir)
	git("clone", "-q", strings.Replace(p.Repository.URL, "http://", "http://alice:"+tok+"@", 1), ".")

	git("mv", "deploy/overlays/development", "deploy/overlays/dev")
	git("commit", "-qm", "Move the development overlay")
	git("push", "-q", "origin", "main")
	p = waitPhase(t, s, tok, name, onramp.PhaseDegraded, time.Minute)
	r := resourceOf(p, onramp.KindKustomization)
	for _, want := range []string{"./deploy/overlays/development does not exist", "./deploy/overlays/dev"} {
		if !strings.Contains(r.Hint, want) {
			t.Errorf("hint %q does not contain %q", r.Hint, want)
		}
	}

	git("mv", "deploy/overlays/dev", "deploy/overlays/development")
	git("commit", "-qm", "Move it back")
	git("push", "-q", "origin", "main")
	head := "main@sha1:" + git("rev-parse", "HEAD")
	waitUntil(t, time.Minute, "ready at the pushed head", func() bool {
		p, _ = getProject(t, s, tok, name)
		k := resourceOf(p, onramp.KindKustomization)
		return p.Phase == onramp.PhaseReady && k.Revision == head
	})
	if p.Repository.Revision != head {
		t.Errorf("recorded revision %s; want the pushed head %s", p.Repository.Revision, head)
	}
}

// pushToGitea clones repo of g's admin, commits NOTES.md holding notes
// ("Add notes") and pushes it to main, returning the new head as Flux
// names it.
func pushToGitea(t *testing.T, g *localgitea.Gitea, repo, notes string) string {
	t.Helper()
	dir := t.TempDir()
	git := gitIn(t, dir)
	git("clone", "-q", strings.Replace(g.URL, "http://", "http://oauth2:"+g.Admin.Token+"@", 1)+"/"+g.Admin.User+"/"+repo+".git", ".")
	if err := os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte(notes), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "NOTES.md")
	git("commit", "-qm", "Add notes")
	git("push", "-q", "origin", "main")
	return "main@sha1:" + git("rev-parse", "HEAD")
}

// gitIn returns a runner of the git CLI in dir, as Alice, that fails t on
// an error and returns the trimmed output.
func gitIn(t *testing.T, dir string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=Alice", "-c", "user.email=alice@example.com"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
}
