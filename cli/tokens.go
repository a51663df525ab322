package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/onramp/onramp"
)

// tokens lists the caller's API tokens: never their secrets, which the
// server does not keep.
func (c *command) tokens(ctx context.Context, _ []string) error {
	if c.output == "json" {
		return c.json(ctx, "/api/v1/tokens")
	}
	var list struct {
		Tokens []onramp.Token `json:"tokens"`
	}
	if err := c.client.do(ctx, http.MethodGet, "/api/v1/tokens", nil, &list); err != nil {
		return err
	}
	tw := table(c.env.Stdout)
	fmt.Fprintln(tw, "ID\tNAME\tCREATED\tEXPIRES\tLAST USED")
	for _, t := range list.Tokens {
		expires := "never"
		if t.ExpiresAt != nil {
			expires = t.ExpiresAt.Local().Format(time.DateTime)
			if !t.ExpiresAt.After(time.Now()) {
				expires += " (expired)"
			}
		}
		used := "never"
		if t.LastUsedAt != nil {
			used = t.LastUsedAt.Local().Format(time.DateTime)
		}
		name := t.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, name, t.CreatedAt.Local().Format(time.DateTime), expires, used)
	}
	return tw.Flush()
}

// revoke revokes one of the caller's tokens; it is refused everywhere at
// once, and so are the web sessions started with it.
func (c *command) revoke(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp token revoke", flag.ContinueOnError)
	pos, err := c.flags("token revoke", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if err := c.client.do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(pos[0]), nil, nil); err != nil {
		return ExitFailed, err
	}
	fmt.Fprintf(c.env.Stdout, "token %s revoked\n", pos[0])
	return ExitOK, nil
}
