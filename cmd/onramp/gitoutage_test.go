package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store/storetest"
)

// TestGitProviderOutage stops a real Gitea of the test's own while a
// project is created on it and while it is deleted: each attempt is logged
// and retried, nothing is forgotten, and both converge once Gitea is back,
// with exactly one repository between them.
func TestGitProviderOutage(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	g, err := localgitea.Start(ctx, localgitea.Options{BinDir: giteatest.BinDir(t), DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	conn := map[string]string{"name": "outage", "kind": "gitea", "url": g.URL, "owner": g.Admin.User, "token": g.Admin.Token}
	if code := call(t, "POST", s.url+"/api/v1/git-connections", tok, conn, nil); code != http.StatusCreated {
		t.Fatalf("connect = %d; want 201", code)
	}
	restart := func() {
		t.Helper()
		url := g.URL
		if g, err = localgitea.Start(ctx, localgitea.Options{BinDir: giteatest.BinDir(t), DataDir: dataDir}); err != nil {
			t.Fatal(err)
		}
		if g.URL != url {
			t.Fatalf("Gitea came back at %s, not %s (its port was taken meanwhile)", g.URL, url)
		}
	}

	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("outage")
	body := map[string]any{"name": name, "template": "web-service", "git": "outage",
		"environments": []map[string]string{{"name": "development", "type": "development"}}}
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, body, nil); code != http.StatusAccepted {
		t.Fatalf("create = %d; want 202", code)
	}
	waitUntil(t, time.Minute, "a failed attempt logged", func() bool {
		return strings.Contains(logText(t, s, tok, name), "did not answer: onramp tries again; retrying")
	})
	if p, _ := getProject(t, s, tok, name); p.Phase != onramp.PhaseInitializing || p.Progress > 5 {
		t.Errorf("while Gitea is stopped: %s %d%%; want initializing at 5%% at most", p.Phase, p.Progress)
	}
	restart()
	waitUntil(t, 2*time.Minute, "100%", func() bool {
		p, _ := getProject(t, s, tok, name)
		if p.Phase == onramp.PhaseFailed {
			t.Fatalf("project failed: %+v\n%s", p.Steps, logText(t, s, tok, name))
		}
		return p.Progress == 100
	})
	admin, err := gitea.NewClient(g.URL, gitea.SetToken(g.Admin.Token), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	repos, _, err := admin.ListMyRepos(gitea.ListReposOptions{})
	if n := countRepos(repos, name); err != nil || n != 1 {
		t.Errorf("repositories named %s = %d, %v; want exactly one", name, n, err)
	}

	// Delete while Gitea is stopped: retried, the project is kept until
	// Gitea confirms the repository is gone.
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	if code := call(t, "DELETE", s.url+"/api/v1/projects/"+name, tok, nil, nil); code != http.StatusAccepted {
		t.Fatalf("delete = %d; want 202", code)
	}
	waitUntil(t, 2*time.Minute, "a failed delete attempt logged", func() bool {
		return strings.Contains(logText(t, s, tok, name), "did not answer: onramp tries again; retrying")
	})
	if _, code := getProject(t, s, tok, name); code != http.StatusOK {
		t.Fatalf("the project while Gitea is stopped: %d; want it still there", code)
	}
	restart()
	waitUntil(t, 2*time.Minute, "the project gone", func() bool {
		_, code := getProject(t, s, tok, name)
		return code == http.StatusNotFound
	})
	if _, resp, _ := admin.GetRepo(g.Admin.User, name); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the repository after delete: %v; want 404", resp)
	}
}

func countRepos(repos []*gitea.Repository, name string) int {
	n := 0
	for _, r := range repos {
		if r.Name == name {
			n++
		}
	}
	return n
}
