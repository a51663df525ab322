package gitprovider_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/localgitea/giteatest"
)

// giteaEnv is a test's view of the shared Gitea: a provider for the admin's
// token and an SDK client that acts as the admin with its password.
type giteaEnv struct {
	g     *localgitea.Gitea
	p     gitprovider.Provider
	admin *gitea.Client
}

// newGiteaEnv connects to the shared Gitea as its admin, owner of the
// repositories.
func newGiteaEnv(t *testing.T) *giteaEnv {
	t.Helper()
	g := giteatest.Gitea(t)
	admin, err := gitea.NewClient(g.URL, gitea.SetBasicAuth(g.Admin.User, g.Admin.Password), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	return &giteaEnv{g: g, p: giteaProvider(t, g, g.Admin.User, g.Admin.Token), admin: admin}
}

// giteaProvider returns a Gitea provider for owner and token.
func giteaProvider(t *testing.T, g *localgitea.Gitea, owner, token string) gitprovider.Provider {
	t.Helper()
	p, err := gitprovider.New(gitprovider.Connection{Kind: gitprovider.KindGitea, URL: g.URL, Owner: owner, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// token creates an access token of the admin with scopes; it is deleted
// when the test ends.
func (e *giteaEnv) token(t *testing.T, scopes ...string) (name, token string) {
	t.Helper()
	opt := gitea.CreateAccessTokenOption{Name: "t-" + randomSuffix()}
	for _, s := range scopes {
		opt.Scopes = append(opt.Scopes, gitea.AccessTokenScope(s))
	}
	tok, _, err := e.admin.CreateAccessToken(opt)
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	t.Cleanup(func() { e.admin.DeleteAccessToken(opt.Name) })
	return opt.Name, tok.Token
}

// projectName returns a fresh repository name for t.
func projectName(t *testing.T) string {
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return name + "-" + randomSuffix()
}

// randomSuffix is 6 random hex digits.
func randomSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ctx is a context that ends with the test or after a minute.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// wantCode fails t unless err carries the onramp code want.
func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := onramp.ErrorCode(err); got != want {
		t.Fatalf("error %v has code %q; want %q", err, got, want)
	}
}

// wantNoSecret fails t if a secret shows in err.
func wantNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("an error shows a secret")
		}
	}
}

// wantRetry fails t unless err is retryable.
func wantRetry(t *testing.T, err error, retry bool) {
	t.Helper()
	if got := errors.Is(err, gitprovider.ErrUnavailable); got != retry {
		t.Fatalf("errors.Is(%v, ErrUnavailable) = %v; want %v", err, got, retry)
	}
}
