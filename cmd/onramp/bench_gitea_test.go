package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/templates"
)

// BenchmarkGiteaCreateTo100 creates 3-environment projects on a real Gitea
// one at a time (POST → progress 100 on the event stream), each followed
// by its floor: the same provider calls (create the repository, push the
// rendered tree, install the deploy key) and the same 18 applies made
// directly by a bare client, without onramp. No public URL, so no webhook.
func BenchmarkGiteaCreateTo100(b *testing.B) {
	const projects = 8
	g := giteatest.Gitea(b)
	j := newBenchJanitor(b)
	s := startCluster(b, store.SQLite)
	tok := s.token(b, "alice")
	conn := map[string]string{"name": "gitea", "kind": "gitea", "url": g.URL, "owner": g.Admin.User, "token": g.Admin.Token}
	if code := call(b, "POST", s.url+"/api/v1/git-connections", tok, conn, nil); code != 201 {
		b.Fatalf("connect = %d", code)
	}
	k, err := kube.New(clustertest.Config(b))
	if err != nil {
		b.Fatal(err)
	}
	prov, err := gitprovider.New(gitprovider.Connection{Kind: "gitea", URL: g.URL, Owner: g.Admin.User, Token: g.Admin.Token})
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	var onr, floor []time.Duration
	for i := 0; i < projects+1; i++ { // the first one warms up
		name := uniqueName("bgitea")
		j.project(name, 3)
		body := threeEnvs(name, "web-service")
		body["git"] = "gitea"
		took, _, p := benchCreateBodyTo100(b, s, tok, name, body)
		floorName := uniqueName("bfloor")
		j.project(floorName, 3)
		f := benchGiteaFloor(b, prov, k, tmpl, p, floorName)
		if i > 0 {
			onr, floor = append(onr, took), append(floor, f)
		}
	}
	on50, fl50 := benchPct(onr, .5), benchPct(floor, .5)
	b.ReportMetric(float64(on50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(fl50.Microseconds())/1000, "floor-p50-ms")
	b.ReportMetric(float64(on50)/float64(fl50), "ratio")
	b.Logf("gitea create → 100%%, 3 environments, %d projects: p50 %s, p95 %s; floor p50 %s; ratio %.2f",
		projects, on50.Round(time.Millisecond), benchPct(onr, .95).Round(time.Millisecond), fl50.Round(time.Millisecond), float64(on50)/float64(fl50))
}

// benchGiteaFloor makes what onramp makes for p under another name, with
// the provider's and kube's clients directly, and returns how long it took
// (the template rendered beforehand).
func benchGiteaFloor(b *testing.B, prov gitprovider.Provider, k *kube.Client, tmpl *templates.Registry, p *onramp.Project, name string) time.Duration {
	b.Helper()
	ctx := context.Background()
	fp := *p
	fp.Name = name
	files, err := tmpl.Render(&fp)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	repo, err := prov.EnsureRepository(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	rev, err := prov.Push(ctx, repo, files, "Render template "+p.Template)
	if err != nil {
		b.Fatal(err)
	}
	cred, err := prov.EnsureDeployCredential(ctx, repo, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range p.Environments {
		spec := kube.EnvironmentSpec{Project: name, Environment: e.Name, Type: e.Type, Path: e.Path,
			GitURL: cred.URL, Branch: repo.DefaultBranch, GitSecret: cred.SecretData(), Revision: rev}
		if _, err := k.ApplyEnvironment(ctx, spec, nil); err != nil {
			b.Fatalf("floor: %v", err)
		}
	}
	return time.Since(t0)
}

// benchCreateBodyTo100 creates a project with body and follows its event
// stream to 100%. It returns the client's and the server's durations and
// the project as stored at 100%.
func benchCreateBodyTo100(b *testing.B, s *server, tok, name string, body map[string]any) (time.Duration, time.Duration, *onramp.Project) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	var created onramp.Project
	if code := call(b, "POST", s.url+"/api/v1/projects", tok, body, &created); code != http.StatusAccepted {
		b.Fatalf("create %s = %d", name, code)
	}
	events := benchStream(b, ctx, s.url, tok, name)
	var took time.Duration
	for e := range events {
		var d struct {
			Progress int          `json:"progress"`
			Phase    onramp.Phase `json:"phase"`
		}
		json.Unmarshal([]byte(e.Data), &d)
		if d.Phase == onramp.PhaseFailed {
			b.Fatalf("%s failed: %s\n%s", name, e.Data, logText(b, s, tok, name))
		}
		if (e.Type == onramp.EventSnapshot || e.Type == onramp.EventProgress) && d.Progress == 100 {
			took = e.At.Sub(t0)
			break
		}
	}
	if took == 0 {
		b.Fatalf("%s: the stream ended before 100%% (%v)", name, ctx.Err())
	}
	cancel()
	stored, err := s.app.DB.ProjectByName(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	evs, err := s.app.DB.Events(context.Background(), stored.ID, 0, 1000)
	if err != nil {
		b.Fatal(err)
	}
	var server time.Duration
	for _, e := range evs {
		var d struct{ Progress int }
		if json.Unmarshal(e.Data, &d); e.Type == onramp.EventProgress && d.Progress == 100 {
			server = e.At.Sub(stored.CreatedAt)
		}
	}
	return took, server, stored
}
