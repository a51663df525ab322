package onramp

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User owns projects and authenticates with API tokens.
type User struct {
	ID        int64     `json:"-"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Token is an API token as its owner sees it: never its secret.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"` // nil: it never expires
	// LastUsedAt is when it last authenticated a request or a sign-in,
	// give or take a minute; nil if never.
	LastUsedAt *time.Time `json:"last_used_at"`
}

// NewToken is a token just created, with its secret, which is shown this
// once and never again.
type NewToken struct {
	Token
	Secret string `json:"token"`
}

// TokenCreate asks for a new token.
type TokenCreate struct {
	Name string `json:"name"`
	// ExpiresIn is how long the token is valid; 0 is for ever.
	ExpiresIn Duration `json:"expires_in"`
}

// Bounds of a token's name and lifetime.
const (
	MaxTokenName     = 100
	MaxTokenLifetime = 10 * 365 * 24 * time.Hour
)

// Validate checks the name and the lifetime.
func (c TokenCreate) Validate() error {
	switch {
	case len(c.Name) > MaxTokenName:
		return FieldErrorf("name", "a token's name has at most %d bytes", MaxTokenName)
	case !utf8.ValidString(c.Name) || strings.ContainsFunc(c.Name, unicode.IsControl):
		return FieldErrorf("name", "a token's name must be printable UTF-8")
	case c.ExpiresIn < 0 || c.ExpiresIn > 0 && c.ExpiresIn.Std() < time.Second || c.ExpiresIn.Std() > MaxTokenLifetime:
		return FieldErrorf("expires_in", "expires_in must be a duration from 1s to %v (e.g. 720h), or 0 for a token that never expires", MaxTokenLifetime)
	}
	return nil
}

// AuthService issues and checks credentials: API tokens, and the web
// sessions that signing in with one starts. Tokens and sessions are stored
// only as hashes. The methods that check a credential (Authenticate,
// StartSession, AuthenticateSession) are the ones api.AuthLimiter limits.
type AuthService interface {
	// IssueToken creates the user if needed and returns a new token, whose
	// secret is never shown again.
	IssueToken(ctx context.Context, user string, c TokenCreate) (*NewToken, error)
	// ListTokens returns the user's tokens, oldest first.
	ListTokens(ctx context.Context, user string) ([]*Token, error)
	// RevokeToken deletes one of the user's tokens and ends the sessions
	// started with it; another user's token is ENOTFOUND.
	RevokeToken(ctx context.Context, user, id string) error
	// Authenticate returns the token's user, or EUNAUTHORIZED if it is
	// unknown, revoked or expired.
	Authenticate(ctx context.Context, token string) (*User, error)

	// StartSession checks a token as Authenticate does and starts a web
	// session for its user, returning the session's secret ID, which only
	// the browser's cookie holds.
	StartSession(ctx context.Context, token string) (session string, u *User, err error)
	// AuthenticateSession returns the session's user, or EUNAUTHORIZED if
	// it is unknown, ended or expired.
	AuthenticateSession(ctx context.Context, session string) (*User, error)
	// EndSession ends a session at once; an unknown one is no error.
	EndSession(ctx context.Context, session string) error
}

// SessionCookie is the HttpOnly cookie that carries a signed-in browser's
// session ID (never an API token); the API accepts it in place of the
// Authorization header.
const SessionCookie = "onramp_session"

type userKey struct{}

// NewContextWithUser returns a context carrying the authenticated user.
func NewContextWithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the authenticated user, or nil.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}
