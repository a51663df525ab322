package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
)

// defaultGitName is the git connection, one per user, through which the
// projects that name none are created on the configured provider.
const defaultGitName = "platform"

// defaultGit puts the repository of every project created without a git
// connection on the operator's provider (ONRAMP_GIT_PROVIDER_*): it gives
// the project the owner's connection "platform", which it makes from the
// configuration the first time, its token checked as `onramp git connect`
// checks one. A user's own connection of that name is used as it is.
type defaultGit struct {
	onramp.ProjectService
	db      *store.DB
	checker onramp.GitConnectionChecker
	conn    onramp.GitConnectionCreate
	logger  *slog.Logger
}

// CreateProject implements onramp.ProjectService.
func (d defaultGit) CreateProject(ctx context.Context, owner string, p *onramp.Project) error {
	if p.Git == "" {
		if err := d.ensure(ctx, owner); err != nil {
			return err
		}
		p.Git = defaultGitName
	}
	return d.ProjectService.CreateProject(ctx, owner, p)
}

// ensure makes owner's connection "platform" unless it exists.
func (d defaultGit) ensure(ctx context.Context, owner string) error {
	_, err := d.db.FindGitConnection(ctx, owner, defaultGitName)
	if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return err
	}
	login, err := d.checker.CheckGitConnection(ctx, d.conn)
	if err != nil {
		d.logger.Error("the configured git provider refused its connection", "provider", d.conn, "error", err)
		return onramp.Errorf(onramp.EUNAVAILABLE, "onramp's Git provider %s did not accept its connection (%s): try again, or ask the operator to check ONRAMP_GIT_PROVIDER_URL, _OWNER and _TOKEN",
			d.conn.URL, onramp.ErrorMessage(err))
	}
	_, err = d.db.CreateGitConnection(ctx, owner, d.conn, login)
	if onramp.ErrorCode(err) == onramp.ECONFLICT {
		return nil // made by a create of the same owner's at the same time
	}
	return err
}

// gitProvider checks the configured default provider and brings the
// token of the connections made from it up to date. It returns false when
// none is configured: projects go to the built-in server.
func (a *App) gitProvider(ctx context.Context) (bool, error) {
	g := &a.Config.GitProvider
	if g.Kind == "" || g.Kind == "builtin" {
		return false, nil
	}
	g.Name = defaultGitName
	if err := g.Validate(); err != nil {
		return false, fmt.Errorf("ONRAMP_GIT_PROVIDER_%s: %s", envSuffix(onramp.ErrorField(err)), onramp.ErrorMessage(err))
	}
	n, err := a.DB.RefreshGitConnections(ctx, *g)
	if err != nil {
		return false, err
	}
	a.Logger.Info("projects without a git connection get their repository on the configured provider", "provider", *g, "connections", n)
	return true, nil
}

// envSuffix is the ONRAMP_GIT_PROVIDER_ variable of a connection's field.
func envSuffix(field string) string {
	switch field {
	case "kind":
		return "KIND"
	case "url":
		return "URL"
	case "owner":
		return "OWNER"
	default:
		return "TOKEN"
	}
}
