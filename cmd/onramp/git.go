package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"

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
	// publicURL is onramp's as providers reach it; "" registers no webhook.
	publicURL string
}

// GitFor implements pipeline.GitResolver.
func (g gitResolver) GitFor(ctx context.Context, p *onramp.Project) (onramp.GitProvider, error) {
	if p.Git == "" {
		return g.builtin.GitFor(ctx, p)
	}
	return g.provider(ctx, p)
}

// provider returns p's view of its connection's provider.
func (g gitResolver) provider(ctx context.Context, p *onramp.Project) (*gitprovider.Project, error) {
	c, token, err := g.db.ProjectGitConnection(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	prov, err := gitprovider.New(gitprovider.Connection{Kind: c.Kind, URL: c.URL, Owner: c.Owner, Token: token, HTTPClient: g.http})
	if err != nil {
		return nil, err
	}
	gp := &gitprovider.Project{Provider: prov, Credentials: g.db, ID: p.ID}
	if g.publicURL != "" {
		gp.HookURL = strings.TrimSuffix(g.publicURL, "/") + hookPath + p.Name
	}
	return gp, nil
}

// hookPath is where the providers deliver a project's pushes, followed by
// the project's name.
const hookPath = "/hooks/git/"

// gitHook is the handler of a push delivery: verified against the
// repository's own secret (anything else is 401 and changes nothing), a
// push to the project's branch is deployed as a push to the built-in
// server is: the new head recorded and every environment reconciled.
func (g gitResolver) gitHook(logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("project")
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, "could not read the delivery", http.StatusBadRequest)
			return
		}
		p, err := g.db.ProjectByName(r.Context(), name)
		if err != nil || p.Git == "" {
			http.Error(w, "unknown or unsigned delivery", http.StatusUnauthorized)
			return
		}
		prov, err := g.provider(r.Context(), p)
		if err != nil {
			logger.Warn("webhook delivery", "project", name, "error", err)
			http.Error(w, "the project's git connection cannot be read", http.StatusServiceUnavailable)
			return
		}
		ev, err := prov.VerifyPush(r.Context(), r, body)
		if err != nil {
			logger.Info("webhook delivery refused", "project", name, "error", onramp.ErrorMessage(err))
			http.Error(w, "unknown or unsigned delivery", http.StatusUnauthorized)
			return
		}
		if ev.Revision() != "" && ev.Branch == p.Repository.Branch {
			if err := g.db.RequestRepair(context.WithoutCancel(r.Context()), name); err != nil {
				logger.Warn("deploy pushed revision", "project", name, "error", err)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
