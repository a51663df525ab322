package gitprovider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// The kinds of provider New knows.
const (
	KindGitea  = "gitea"
	KindGitHub = "github"
	KindGitLab = "gitlab"
)

// Connection is what a user connects onramp to: a provider, the owner the
// repositories are created under (a user, organisation or group) and a token.
// The token is never shown: String and LogValue leave it out.
type Connection struct {
	// Kind is KindGitea, KindGitHub or KindGitLab.
	Kind string
	// URL is the provider's root: "https://git.acme.dev" (Gitea),
	// "https://github.com" or a GitHub Enterprise host, "https://gitlab.com"
	// or a self-managed GitLab.
	URL string
	// Owner is the user, organisation or group the repositories go under.
	Owner string
	// Token acts for the user; it never reaches Flux, a log or an error.
	Token string
	// KnownHosts, when set, is the SSH known_hosts line(s) deploy-key
	// clones trust, instead of what the provider publishes (GitHub) or
	// what its SSH server presents at the first connection (Gitea).
	KnownHosts string
	// HTTPClient makes the API calls and pushes; nil means a client with a
	// 30 second timeout.
	HTTPClient *http.Client
}

// String describes c without its token.
func (c Connection) String() string {
	return fmt.Sprintf("%s %s owner %s", c.Kind, c.URL, c.Owner)
}

// GoString is String, so that %#v does not show the token either.
func (c Connection) GoString() string { return c.String() }

// LogValue logs c without its token.
func (c Connection) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", c.Kind), slog.String("url", c.URL), slog.String("owner", c.Owner))
}

// Identity is whom a token belongs to and where it creates repositories.
type Identity struct {
	// Login is the token's user.
	Login string
	// Owner is the connection's owner as the provider spells it.
	Owner string
	// OwnerKind is "user", "organization" or "group".
	OwnerKind string
}

// Repo is a repository as the provider reports it.
type Repo struct {
	// Owner and Name make the repository's path: Owner/Name.
	Owner, Name string
	// ID is the provider's number for it (GitLab's project id).
	ID int64
	// CloneURL is the HTTPS clone URL, which onramp pushes to.
	CloneURL string
	// SSHURL is the ssh:// clone URL, which Flux uses with a deploy key.
	SSHURL string
	// WebURL is the repository's page.
	WebURL string
	// DefaultBranch is the branch onramp commits to and Flux follows.
	DefaultBranch string
	// Private is true for every repository onramp creates.
	Private bool
}

// FullName is "owner/name".
func (r Repo) FullName() string { return r.Owner + "/" + r.Name }

// PushEvent is a verified webhook delivery.
type PushEvent struct {
	// Event is the provider's event name; only "push" moves a branch.
	Event string
	// Repository is the repository's "owner/name" (GitLab: its path with
	// namespace).
	Repository string
	// Branch is the pushed branch ("main"), empty for a tag or another event.
	Branch string
	// After is the commit the branch now points at.
	After string
}

// Revision is the pushed commit as Flux writes it, "main@sha1:<sha>", or
// "" for a delivery that moved no branch.
func (e PushEvent) Revision() string {
	if e.Event != "push" || e.Branch == "" || e.After == "" || strings.Trim(e.After, "0") == "" {
		return ""
	}
	return e.Branch + "@sha1:" + e.After
}

// Provider is one external Git provider, seen through one connection. Every
// method is idempotent: a retry after any failure converges. Errors are
// *Error values that carry an onramp code (EUNAUTHORIZED, ECONFLICT,
// EINVALID, ENOTFOUND, EUNAVAILABLE) and say whether a retry may help.
type Provider interface {
	// Check verifies the token: whom it belongs to, that the owner exists
	// and that the token may create repositories there. A refusal says
	// what is missing.
	Check(ctx context.Context) (Identity, error)
	// EnsureRepository creates the private repository Owner/name marked as
	// onramp's, or returns it when it exists and is onramp's; a repository
	// that exists and is not onramp's is ECONFLICT.
	EnsureRepository(ctx context.Context, name string) (Repo, error)
	// Repository returns onramp's repository Owner/name: ENOTFOUND when it
	// does not exist, ECONFLICT when it is not onramp's.
	Repository(ctx context.Context, name string) (Repo, error)
	// DeleteRepository deletes onramp's repository Owner/name, and with it
	// its deploy credentials and webhooks. A missing one is not an error; one
	// that is not onramp's is ECONFLICT and stays.
	DeleteRepository(ctx context.Context, name string) error
	// EnsureDeployCredential installs the repository's read-only credential
	// for Flux and returns what goes into Flux's Secret. existing is what an
	// earlier call returned (nil if none): it is returned again while the
	// provider still holds it, else replaced.
	EnsureDeployCredential(ctx context.Context, repo Repo, existing *DeployCredential) (DeployCredential, error)
	// RemoveDeployCredential removes the credential EnsureDeployCredential
	// installed; a missing one is not an error.
	RemoveDeployCredential(ctx context.Context, repo Repo) error
	// EnsureWebhook registers a push webhook to url signed with secret,
	// updating the one already registered to url.
	EnsureWebhook(ctx context.Context, repo Repo, url, secret string) error
	// RemoveWebhook removes the webhooks registered to url.
	RemoveWebhook(ctx context.Context, repo Repo, url string) error
	// VerifyWebhook checks a delivery's signature (or token) against secret
	// and decodes it; a delivery not signed with secret is EUNAUTHORIZED.
	VerifyWebhook(r *http.Request, body []byte, secret string) (PushEvent, error)
	// Push makes files the whole tree of the default branch over HTTPS with
	// the token and returns the head, "main@sha1:<sha>". The same tree
	// makes no new commit; commits pushed meanwhile stay, as parents.
	Push(ctx context.Context, repo Repo, files onramp.Files, message string) (string, error)
	// Head returns the default branch's head, "main@sha1:<sha>"; ENOTFOUND
	// when the branch has no commit yet.
	Head(ctx context.Context, repo Repo) (string, error)
	// CommitMessage returns the message of the commit sha (40 hex digits)
	// as the provider stores it; ENOTFOUND when the repository has no such
	// commit.
	CommitMessage(ctx context.Context, repo Repo, sha string) (string, error)
}

// New returns the provider for c.Kind.
func New(c Connection) (Provider, error) {
	if c.Owner == "" {
		return nil, onramp.FieldErrorf("owner", "the owner (user, organisation or group) repositories are created under is empty")
	}
	if c.Token == "" {
		return nil, onramp.FieldErrorf("token", "the token is empty")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	switch c.Kind {
	case KindGitea:
		return newGitea(c)
	case KindGitHub:
		return newGitHub(c)
	case KindGitLab:
		return newGitLab(c)
	default:
		return nil, onramp.FieldErrorf("kind", "unknown git provider kind %q: use %s, %s or %s", c.Kind, KindGitea, KindGitHub, KindGitLab)
	}
}
