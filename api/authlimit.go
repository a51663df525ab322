package api

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/onramp/onramp"
)

// AuthLimiter checks credentials for the API, the pages and the Git server
// (give the same one to all three): tokens, web sessions and Git's basic
// auth. It limits how many a client address may get refused: past
// PerMinute refusals in a minute, every check from that address is refused
// with ETOOMANY, valid credentials too, until the budget refills. Normal use, which sends valid credentials, never meets
// it. Requests need the client address that Server.Handler records.
type AuthLimiter struct {
	onramp.AuthService
	Git onramp.GitAuthorizer
	// PerMinute is how many refused credentials an address may send per
	// minute, and at once.
	PerMinute int

	mu        sync.Mutex
	clients   map[string]*rate.Limiter
	nextPrune int
}

// NewAuthLimiter returns an AuthLimiter over auth and git.
func NewAuthLimiter(auth onramp.AuthService, git onramp.GitAuthorizer, perMinute int) *AuthLimiter {
	return &AuthLimiter{AuthService: auth, Git: git, PerMinute: perMinute}
}

// Authenticate checks a token unless the caller's address has been
// refused too often.
func (a *AuthLimiter) Authenticate(ctx context.Context, token string) (*onramp.User, error) {
	lim, err := a.check(ctx, "")
	if err != nil {
		return nil, err
	}
	u, err := a.AuthService.Authenticate(ctx, token)
	charge(lim, err)
	return u, err
}

// StartSession checks a token and starts a web session with it unless
// the caller's address has been refused too often.
func (a *AuthLimiter) StartSession(ctx context.Context, token string) (string, *onramp.User, error) {
	lim, err := a.check(ctx, "")
	if err != nil {
		return "", nil, err
	}
	session, u, err := a.AuthService.StartSession(ctx, token)
	charge(lim, err)
	return session, u, err
}

// AuthenticateSession checks a web session unless the caller's address
// has been refused too often.
func (a *AuthLimiter) AuthenticateSession(ctx context.Context, session string) (*onramp.User, error) {
	lim, err := a.check(ctx, "")
	if err != nil {
		return nil, err
	}
	u, err := a.AuthService.AuthenticateSession(ctx, session)
	charge(lim, err)
	return u, err
}

// AuthorizeGit checks Git credentials unless the caller's address has
// been refused too often.
//
// Flux's reads are counted per project: every project's Flux clones from
// the same source-controller address, and the retries of one project whose
// credential broke must not refuse the others'.
func (a *AuthLimiter) AuthorizeGit(ctx context.Context, project, username, password string, write bool) error {
	scope := ""
	if username == onramp.GitReadUser && !write {
		scope = "flux " + project
	}
	lim, err := a.check(ctx, scope)
	if err != nil {
		return err
	}
	err = a.Git.AuthorizeGit(ctx, project, username, password, write)
	charge(lim, err)
	return err
}

// check returns the limiter of ctx's client address, within scope if
// given, or ETOOMANY when it has no refusal left. A context without an
// address is not limited.
func (a *AuthLimiter) check(ctx context.Context, scope string) (*rate.Limiter, error) {
	client, ok := clientFromContext(ctx)
	if !ok {
		return nil, nil
	}
	if scope != "" {
		client += " " + scope
	}
	now := time.Now()
	lim := a.limiter(client, now)
	if tokens := lim.TokensAt(now); tokens < 1 {
		wait := time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
		return nil, onramp.TooManyf(wait, "too many refused credentials from your address; wait, then try again with a valid token")
	}
	return lim, nil
}

// charge counts a refusal against lim.
func charge(lim *rate.Limiter, err error) {
	if lim != nil && onramp.ErrorCode(err) == onramp.EUNAUTHORIZED {
		lim.Allow()
	}
}

// limiter returns client's limiter, making it if new. Limiters that have
// refilled are forgotten, so that many addresses cost no lasting memory.
func (a *AuthLimiter) limiter(client string, now time.Time) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	if lim, ok := a.clients[client]; ok {
		return lim
	}
	if a.clients == nil {
		a.clients = map[string]*rate.Limiter{}
	}
	if len(a.clients) >= a.nextPrune {
		for c, lim := range a.clients {
			if lim.TokensAt(now) >= float64(lim.Burst()) {
				delete(a.clients, c)
			}
		}
		a.nextPrune = max(1024, 2*len(a.clients))
	}
	n := or(a.PerMinute, DefaultLimits().AuthFailuresPerMinute)
	lim := rate.NewLimiter(rate.Limit(float64(n)/60), n)
	a.clients[client] = lim
	return lim
}
