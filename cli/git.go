package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

const gitConnectionsPath = "/api/v1/git-connections"

// gitConnect records a connection to a Git provider. The token is read
// from a file or standard input, never from a flag's value, so that it
// stays out of the shell's history and the process list.
func (c *command) gitConnect(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp git connect", flag.ContinueOnError)
	in := onramp.GitConnectionCreate{}
	fs.StringVar(&in.Kind, "kind", "", "the provider: gitea, github or gitlab")
	fs.StringVar(&in.URL, "url", "", "the provider's root, e.g. https://git.acme.dev")
	fs.StringVar(&in.Owner, "owner", "", "the user, organisation or group repositories are created under")
	tokenFile := fs.String("token-file", "", "a file holding the provider's token, or - for standard input")
	pos, err := c.flags("git connect", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	in.Name = pos[0]
	if in.Token, err = c.readToken(*tokenFile); err != nil {
		return ExitUsage, err
	}
	var conn onramp.GitConnection
	if err := c.client.do(ctx, http.MethodPost, gitConnectionsPath, in, &conn); err != nil {
		return ExitFailed, err
	}
	if c.output == "json" {
		return ExitOK, writeJSON(c.env.Stdout, conn)
	}
	fmt.Fprintf(c.env.Stdout, "git connection %s: %s %s, repositories under %s, as %s\n", conn.Name, conn.Kind, conn.URL, conn.Owner, conn.Login)
	return ExitOK, nil
}

// readToken reads the token from path, or standard input for "-".
func (c *command) readToken(path string) (string, error) {
	var b []byte
	var err error
	switch path {
	case "":
		return "", errors.New("--token-file is required: a file holding the provider's token, or - to read it from standard input")
	case "-":
		if c.env.Stdin == nil {
			return "", errors.New("--token-file -: no standard input to read the token from")
		}
		b, err = io.ReadAll(io.LimitReader(c.env.Stdin, 64<<10))
	default:
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("read the token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token-file %s holds no token", path)
	}
	return token, nil
}

// gitList lists the caller's connections, never their tokens.
func (c *command) gitList(ctx context.Context, _ []string) error {
	if c.output == "json" {
		return c.json(ctx, gitConnectionsPath)
	}
	var list struct {
		Connections []onramp.GitConnection `json:"connections"`
	}
	if err := c.client.do(ctx, http.MethodGet, gitConnectionsPath, nil, &list); err != nil {
		return err
	}
	tw := table(c.env.Stdout)
	fmt.Fprintln(tw, "NAME\tKIND\tURL\tOWNER\tLOGIN\tCREATED")
	for _, g := range list.Connections {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Name, g.Kind, g.URL, g.Owner, g.Login, g.CreatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// gitShow shows one connection.
func (c *command) gitShow(ctx context.Context, pos []string) error {
	path := gitConnectionsPath + "/" + url.PathEscape(pos[0])
	if c.output == "json" {
		return c.json(ctx, path)
	}
	var g onramp.GitConnection
	if err := c.client.do(ctx, http.MethodGet, path, nil, &g); err != nil {
		return err
	}
	tw := table(c.env.Stdout)
	for _, row := range [][2]string{{"name", g.Name}, {"kind", g.Kind}, {"url", g.URL}, {"owner", g.Owner},
		{"login", g.Login}, {"created", g.CreatedAt.Local().Format(time.DateTime)}} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// gitDisconnect removes a connection no project uses.
func (c *command) gitDisconnect(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp git disconnect", flag.ContinueOnError)
	pos, err := c.flags("git disconnect", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if err := c.client.do(ctx, http.MethodDelete, gitConnectionsPath+"/"+url.PathEscape(pos[0]), nil, nil); err != nil {
		return ExitFailed, err
	}
	fmt.Fprintf(c.env.Stdout, "git connection %s removed\n", pos[0])
	return ExitOK, nil
}
