package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store/storetest"
)

// TestGitPushWebhook registers a push webhook on a real Gitea when onramp
// knows its public URL: a push with the git command reaches onramp through
// Gitea's own delivery and every environment is ready at the new head; a
// delivery with a wrong signature is 401 and changes nothing.
func TestGitPushWebhook(t *testing.T) {
	g := giteatest.Gitea(t)
	addr := freeAddr(t)
	s := startCluster(t, storetest.Engines()[0], "--addr", addr, "--public-url", "http://"+addr)
	tok := s.token(t, "alice")
	conn := map[string]string{"name": "hooked", "kind": "gitea", "url": g.URL, "owner": g.Admin.User, "token": g.Admin.Token}
	if code := call(t, "POST", s.url+"/api/v1/git-connections", tok, conn, nil); code != http.StatusCreated {
		t.Fatalf("connect = %d; want 201", code)
	}
	name := uniqueName("hook")
	if code, out, errOut := runCLI(t, s, tok, "project", "create", name, "--git", "hooked", "--env", "development,staging", "--wait-ready", "--timeout", "3m"); code != 0 {
		t.Fatalf("create --wait-ready = %d\n%s%s", code, out, errOut)
	}
	admin, err := gitea.NewClient(g.URL, gitea.SetToken(g.Admin.Token), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	hooks, _, err := admin.ListRepoHooks(g.Admin.User, name, gitea.ListHooksOptions{})
	if err != nil || len(hooks) != 1 || hooks[0].Config["url"] != "http://"+addr+"/hooks/git/"+name {
		t.Fatalf("webhooks = %+v, %v; want one to onramp", hooks, err)
	}
	before, _ := getProject(t, s, tok, name)

	req, _ := http.NewRequest("POST", s.url+"/hooks/git/"+name, strings.NewReader(`{"ref":"refs/heads/main","after":"0123456789012345678901234567890123456789"}`))
	req.Header.Set("X-Gitea-Event", "push")
	req.Header.Set("X-Gitea-Signature", strings.Repeat("ab", 32))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a delivery with a wrong signature = %d; want 401", resp.StatusCode)
	}
	time.Sleep(500 * time.Millisecond)
	if p, _ := getProject(t, s, tok, name); p.Repository.Revision != before.Repository.Revision || p.Phase != onramp.PhaseReady {
		t.Errorf("after a wrongly signed delivery: %s %s; want %s ready, unchanged", p.Repository.Revision, p.Phase, before.Repository.Revision)
	}

	head := pushToGitea(t, g, name, "pushed by the team\n")
	// The push deploys development, which follows the branch; staging
	// moves when promoted, on Gitea as on the built-in server.
	atHead := func(env string) bool {
		p, _ := getProject(t, s, tok, name)
		for _, r := range p.GitOps.Resources {
			if r.Kind == onramp.KindKustomization && r.Environment == env {
				return p.Phase == onramp.PhaseReady && r.Status == onramp.StatusReady && r.Revision == head
			}
		}
		return false
	}
	waitUntil(t, 2*time.Minute, "development ready at the pushed head", func() bool { return atHead("development") })
	if p, _ := getProject(t, s, tok, name); p.Repository.Revision != head || atHead("staging") {
		t.Errorf("after the push: repository at %s, staging at the head %v; want the head recorded, staging not moved", p.Repository.Revision, atHead("staging"))
	}
	if code, out, errOut := runCLI(t, s, tok, "project", "promote", name, "--to", "staging", "--wait", "--timeout", "2m"); code != 0 || !strings.Contains(out, "staging is Ready at "+onramp.ShortRevision(head)) {
		t.Fatalf("promote --wait = %d\n%s%s", code, out, errOut)
	}
	if p, _ := getProject(t, s, tok, name); !atHead("staging") || p.Environments[1].Message != "Add notes" {
		t.Errorf("staging after its promotion: %+v; want Ready at the head with its commit message from Gitea", p.Environments[1])
	}
	if !strings.Contains(logText(t, s, tok, name), "repair: re-applying") {
		t.Error("the push was not deployed by the webhook's repair (Flux's own poll got there first?)")
	}

	if code, out, errOut := runCLI(t, s, tok, "project", "delete", name, "--keep-repository", "--wait", "--timeout", "2m"); code != 0 {
		t.Fatalf("delete --keep-repository = %d\n%s%s", code, out, errOut)
	}
	if hooks, _, err := admin.ListRepoHooks(g.Admin.User, name, gitea.ListHooksOptions{}); err != nil || len(hooks) != 0 {
		t.Errorf("webhooks after delete = %d, %v; want none", len(hooks), err)
	}
	if logs := s.stderr.String(); bytes.Contains([]byte(logs), []byte(g.Admin.Token)) {
		t.Error("the server's log holds the token")
	}
}
