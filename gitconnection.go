package onramp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// The kinds of external Git provider a connection may name.
const (
	GitKindGitea  = "gitea"
	GitKindGitHub = "github"
	GitKindGitLab = "gitlab"
)

// GitConnection is a user's connection to an external Git provider: where
// its projects' repositories are created. Its token is never part of it.
type GitConnection struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	URL   string `json:"url"`
	Owner string `json:"owner"`
	// Login is the provider's user the token belongs to.
	Login     string    `json:"login"`
	CreatedAt time.Time `json:"created_at"`
}

// GitConnectionCreate is the input of a new connection. String, GoString
// and LogValue leave the token out.
type GitConnectionCreate struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	URL   string `json:"url"`
	Owner string `json:"owner"`
	Token string `json:"token"`
}

// String describes c without its token.
func (c GitConnectionCreate) String() string {
	return fmt.Sprintf("git connection %s (%s %s owner %s)", c.Name, c.Kind, c.URL, c.Owner)
}

// GoString is String, so that %#v does not show the token either.
func (c GitConnectionCreate) GoString() string { return c.String() }

// LogValue logs c without its token.
func (c GitConnectionCreate) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("kind", c.Kind),
		slog.String("url", c.URL), slog.String("owner", c.Owner))
}

// Validate checks each field and returns an EINVALID error naming the
// first one to fix. It trims spaces around the URL, owner and token.
func (c *GitConnectionCreate) Validate() error {
	c.URL, c.Owner, c.Token = strings.TrimSuffix(strings.TrimSpace(c.URL), "/"), strings.TrimSpace(c.Owner), strings.TrimSpace(c.Token)
	if err := ValidateName(c.Name); err != nil {
		return FieldErrorf("name", "connection name %q must be a lowercase DNS label (letters, digits, '-') of at most 63 characters", c.Name)
	}
	switch c.Kind {
	case GitKindGitea, GitKindGitHub, GitKindGitLab:
	default:
		return FieldErrorf("kind", "kind %q is not a Git provider onramp knows: use %s, %s or %s", c.Kind, GitKindGitea, GitKindGitHub, GitKindGitLab)
	}
	if !strings.HasPrefix(c.URL, "https://") && !strings.HasPrefix(c.URL, "http://") {
		return FieldErrorf("url", "url %q must be the provider's http:// or https:// root, e.g. https://git.acme.dev", c.URL)
	}
	if c.Owner == "" {
		return FieldErrorf("owner", "owner is empty: name the user, organisation or group the repositories are created under")
	}
	if c.Token == "" {
		return FieldErrorf("token", "token is empty: give a token of the provider's user that may create repositories under %s", c.Owner)
	}
	return nil
}

// GitConnectionService keeps users' Git connections. Every method is
// scoped to the owner: another owner's connection is ENOTFOUND.
type GitConnectionService interface {
	// CreateGitConnection records c, its token sealed, with the login the
	// token was checked to belong to; a name in use is ECONFLICT.
	CreateGitConnection(ctx context.Context, owner string, c GitConnectionCreate, login string) (*GitConnection, error)
	GitConnections(ctx context.Context, owner string) ([]*GitConnection, error)
	FindGitConnection(ctx context.Context, owner, name string) (*GitConnection, error)
	// DeleteGitConnection removes the connection; ECONFLICT while a
	// project uses it.
	DeleteGitConnection(ctx context.Context, owner, name string) error
}

// GitConnectionChecker checks a connection's token with its provider before
// it is recorded, and returns whom it belongs to. A refusal is EINVALID
// naming the field to fix, with the provider's reason.
type GitConnectionChecker interface {
	CheckGitConnection(ctx context.Context, c GitConnectionCreate) (login string, err error)
}
