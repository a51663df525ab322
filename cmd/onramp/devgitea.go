package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/localgitea"
)

// startGitea builds Gitea when run from an onramp checkout (minutes, once;
// it prints progress), or finds it built before (ONRAMP_GITEA_BIN, then the
// cache), and runs it on 127.0.0.1 with its data in the data dir.
func (m *Main) startGitea(ctx context.Context, dataDir string, logger *slog.Logger) (*localgitea.Gitea, error) {
	binDir := m.Getenv("ONRAMP_GITEA_BIN")
	opts := localgitea.BuildOptions{Progress: m.Stdout}
	var err error
	switch {
	case binDir != "":
		err = localgitea.CheckBinDir(binDir)
	default:
		if _, ferr := localgitea.FindToolsDir(); ferr == nil {
			fmt.Fprintln(m.Stdout, "checking the Gitea binary (the first build takes about 7 minutes)…")
			binDir, err = localgitea.Build(ctx, opts)
		} else {
			binDir, err = localgitea.Lookup(ctx, opts)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gitea is not built: run `make gitea` in an onramp checkout (%w)", err)
	}
	fmt.Fprintln(m.Stdout, "starting Gitea…")
	start := time.Now()
	g, err := localgitea.Start(ctx, localgitea.Options{BinDir: binDir, DataDir: filepath.Join(dataDir, "gitea"), Log: logger.With("component", "localgitea")})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(m.Stdout, "Gitea ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	return g, nil
}

// connectGitea gives user the git connection "gitea" to g, as its admin,
// unless the user has one by that name already.
func connectGitea(ctx context.Context, db onramp.GitConnectionService, user string, g *localgitea.Gitea) error {
	if c, err := db.FindGitConnection(ctx, user, "gitea"); err == nil {
		if c.URL != g.URL {
			return fmt.Errorf("the git connection gitea of %s points at %s, but Gitea now runs at %s: `onramp git disconnect gitea` once no project uses it, then restart", user, c.URL, g.URL)
		}
		return nil
	}
	in := onramp.GitConnectionCreate{Name: "gitea", Kind: onramp.GitKindGitea, URL: g.URL, Owner: g.Admin.User, Token: g.Admin.Token}
	login, err := gitprovider.Checker{}.CheckGitConnection(ctx, in)
	if err != nil {
		return fmt.Errorf("connect to the local Gitea: %w", err)
	}
	_, err = db.CreateGitConnection(ctx, user, in, login)
	return err
}

// devPublicURL is where the local Gitea delivers webhooks to onramp: its
// listen address, unless that leaves the port to the kernel.
func devPublicURL(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		return ""
	}
	return "http://" + addr
}
