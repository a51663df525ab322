package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store/storetest"
)

// TestGitTokenRevoked: a connection whose token is revoked in Gitea after
// it was made fails the next project's create_repository for good, with
// what to do, and creates nothing.
func TestGitTokenRevoked(t *testing.T) {
	g := giteatest.Gitea(t)
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	admin, err := gitea.NewClient(g.URL, gitea.SetBasicAuth(g.Admin.User, g.Admin.Password), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	tokenName := uniqueName("revoked")
	created, _, err := admin.CreateAccessToken(gitea.CreateAccessTokenOption{Name: tokenName, Scopes: []gitea.AccessTokenScope{gitea.AccessTokenScopeAll}})
	if err != nil {
		t.Fatal(err)
	}
	conn := map[string]string{"name": "revoked", "kind": "gitea", "url": g.URL, "owner": g.Admin.User, "token": created.Token}
	if code := call(t, "POST", s.url+"/api/v1/git-connections", tok, conn, nil); code != http.StatusCreated {
		t.Fatalf("connect = %d; want 201", code)
	}
	if _, err := admin.DeleteAccessToken(tokenName); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("revoked")
	body := threeEnvs(name, "web-service")
	body["git"] = "revoked"
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, body, nil); code != http.StatusAccepted {
		t.Fatalf("create = %d", code)
	}
	var p *onramp.Project
	waitUntil(t, time.Minute, "failed", func() bool {
		p, _ = getProject(t, s, tok, name)
		return p.Phase == onramp.PhaseFailed
	})
	var step onramp.Step
	for _, st := range p.Steps {
		if st.Status == onramp.StepFailed {
			step = st
		}
	}
	if step.Name != "create_repository" || step.Hint == "" || !strings.Contains(strings.ToLower(step.Error), "token") {
		t.Errorf("failed step %+v; want create_repository saying the token was refused, with a hint", step)
	}
	if len(clusterObjects(t, kubeClient(t), name)) != 0 || p.Progress > 15 {
		t.Errorf("after the refusal: %d%%, objects in the cluster; want nothing made", p.Progress)
	}
	if strings.Contains(s.stderr.String(), created.Token) {
		t.Error("the revoked token is in the server's log")
	}
}
