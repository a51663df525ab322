package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/templates"
)

// giteaTo100 starts a Gitea of its own, connects onramp to it and creates
// m.n three-environment projects on it one at a time (POST → progress 100
// on the event stream), each followed by its floor: the same provider
// calls (create the repository, push the rendered tree, install the
// deploy key) and the same 18 applies made directly, without onramp. No
// public URL, so no webhook. The first project warms up and is not
// counted.
func (m *measurement) giteaTo100(ctx context.Context) (string, error) {
	binDir, err := localgitea.Lookup(ctx, localgitea.BuildOptions{})
	if err != nil {
		return "", fmt.Errorf("gitea is not built: run `make gitea` (%w)", err)
	}
	fmt.Println("starting Gitea…")
	g, err := localgitea.Start(ctx, localgitea.Options{BinDir: binDir, DataDir: filepath.Join(m.dir, "gitea")})
	if err != nil {
		return "", err
	}
	defer func() { _ = g.Stop() }()
	conn, _ := json.Marshal(map[string]string{"name": "gitea", "kind": gitprovider.KindGitea, "url": g.URL, "owner": g.Admin.User, "token": g.Admin.Token})
	if code, err := m.do(ctx, "POST", "/api/v1/git-connections", conn); err != nil || code != http.StatusCreated {
		return "", fmt.Errorf("connect onramp to gitea: %d %v", code, err)
	}
	prov, err := gitprovider.New(gitprovider.Connection{Kind: gitprovider.KindGitea, URL: g.URL, Owner: g.Admin.User, Token: g.Admin.Token})
	if err != nil {
		return "", err
	}
	k, _, err := m.clients()
	if err != nil {
		return "", err
	}
	tmpl, err := templates.New("")
	if err != nil {
		return "", err
	}
	db, err := store.Open(ctx, m.srv.databaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	fmt.Printf("creating %d projects × 3 environments (%s) on Gitea one at a time to 100%%, each followed by its floor…\n", m.n, m.template)
	var stream, server, floor []time.Duration
	for i := 0; i <= m.n; i++ {
		name := fmt.Sprintf("g%03d-%06x", i, rand.Uint32()&0xffffff)
		body := projectBody(name, m.template, "development", "staging", "production")
		body["git"] = "gitea"
		st, err := m.create(ctx, name, body, false)
		if err != nil {
			return "", err
		}
		p, sv, err := serverTo100(ctx, db, name)
		if err != nil {
			return "", err
		}
		fl, err := giteaFloor(ctx, prov, k, tmpl, p, "f"+name)
		if err != nil {
			return "", fmt.Errorf("floor: %w", err)
		}
		if i == 0 {
			fmt.Printf("warm-up: stream %s, server %s, floor %s\n", st, sv, fl)
			continue
		}
		stream, server, floor = append(stream, st), append(server, sv), append(floor, fl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d projects × 3 environments on Gitea, create → 100%%:\n", len(stream))
	fmt.Fprintf(&b, "  stream p50 %s p95 %s max %s\n", pct(stream, .5), pct(stream, .95), pct(stream, 1))
	fmt.Fprintf(&b, "  server (created → stored 100%%) p50 %s p95 %s max %s\n", pct(server, .5), pct(server, .95), pct(server, 1))
	fmt.Fprintf(&b, "  floor (repository, push, deploy key, 3× ApplyEnvironment) p50 %s p95 %s max %s\n", pct(floor, .5), pct(floor, .95), pct(floor, 1))
	fmt.Fprintf(&b, "  ratio to the floor, p50: stream %.2f, server %.2f\n",
		float64(pct(stream, .5))/float64(pct(floor, .5)), float64(pct(server, .5))/float64(pct(floor, .5)))
	return b.String(), nil
}

// giteaFloor makes what onramp makes for p under another name, with the
// provider's and kube's clients directly, and returns how long it took
// (the template rendered beforehand).
func giteaFloor(ctx context.Context, prov gitprovider.Provider, k *kube.Client, tmpl *templates.Registry, p *onramp.Project, name string) (time.Duration, error) {
	fp := *p
	fp.Name = name
	files, err := tmpl.Render(&fp)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	repo, err := prov.EnsureRepository(ctx, name)
	if err != nil {
		return 0, err
	}
	rev, err := prov.Push(ctx, repo, files, "Render template "+p.Template)
	if err != nil {
		return 0, err
	}
	cred, err := prov.EnsureDeployCredential(ctx, repo, nil)
	if err != nil {
		return 0, err
	}
	for _, e := range p.Environments {
		spec := kube.EnvironmentSpec{Project: name, Environment: e.Name, Type: e.Type, Path: e.Path,
			GitURL: cred.URL, Branch: repo.DefaultBranch, GitSecret: cred.SecretData(), Revision: rev}
		if _, err := k.ApplyEnvironment(ctx, spec, nil); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}
