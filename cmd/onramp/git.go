package main

import (
	"context"
	"net/http"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/store"
)

// gitResolver gives each project the provider its repository lives on:
// the built-in server, or the one its git connection names, with the
// connection's token read from the database for this job only.
type gitResolver struct {
	builtin gitserver.Resolver
	db      *store.DB
	// http makes the providers' calls; nil is gitprovider's default.
	http *http.Client
}

// GitFor implements pipeline.GitResolver.
func (g gitResolver) GitFor(ctx context.Context, p *onramp.Project) (onramp.GitProvider, error) {
	if p.Git == "" {
		return g.builtin.GitFor(ctx, p)
	}
	c, token, err := g.db.ProjectGitConnection(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	prov, err := gitprovider.New(gitprovider.Connection{Kind: c.Kind, URL: c.URL, Owner: c.Owner, Token: token, HTTPClient: g.http})
	if err != nil {
		return nil, err
	}
	return &gitprovider.Project{Provider: prov, Credentials: g.db, ID: p.ID}, nil
}
