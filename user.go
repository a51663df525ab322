package onramp

import (
	"context"
	"time"
)

// User owns projects and authenticates with API tokens.
type User struct {
	ID        int64     `json:"-"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// AuthService issues and checks API tokens. Tokens are stored only as hashes.
type AuthService interface {
	// CreateToken creates the user if needed and returns a new token, which
	// is never shown again.
	CreateToken(ctx context.Context, user string) (string, error)
	// Authenticate returns the token's user, or EUNAUTHORIZED.
	Authenticate(ctx context.Context, token string) (*User, error)
}

// SessionCookie is the HttpOnly cookie that carries a signed-in browser's
// API token; the API accepts it in place of the Authorization header.
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
