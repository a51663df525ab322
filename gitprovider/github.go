package gitprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"

	"github.com/onramp/onramp"
)

// githubScopes are the token scopes or permissions onramp needs on GitHub.
const githubScopes = "the `repo` scope, and `delete_repo` for deleting projects (fine-grained: Administration, Contents and Webhooks, read and write)"

// githubProvider talks to GitHub or GitHub Enterprise Server with go-github.
type githubProvider struct {
	gitClient
	conn   Connection
	client *github.Client
}

// newGitHub returns the GitHub provider of c: github.com's API for
// https://github.com, <URL>/api/v3/ for any other host (Enterprise Server).
func newGitHub(c Connection) (*githubProvider, error) {
	c.URL = strings.TrimSuffix(c.URL, "/")
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(c.HTTPClient), github.WithAuthToken(c.Token)}
	if u, err := url.Parse(c.URL); err != nil || u.Host == "" {
		return nil, onramp.FieldErrorf("url", "%q is not a GitHub URL: use https://github.com or your GitHub Enterprise Server's address", c.URL)
	} else if u.Host != "github.com" {
		opts = append(opts, github.WithEnterpriseURLs(c.URL+"/api/v3/", c.URL+"/api/uploads/"))
	}
	client, err := github.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	errs := classifier{name: "GitHub at " + c.URL, token: c.Token, scopes: githubScopes, now: time.Now}
	return &githubProvider{gitClient: gitClient{user: "x-access-token", token: c.Token, errs: errs}, conn: c, client: client}, nil
}

// fail classifies a go-github error; rate limits carry their response.
func (p *githubProvider) fail(op string, resp *github.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	// go-github answers a request made during a known rate limit itself,
	// with a response that has no headers: take the reset it remembers.
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return p.errs.limited(op, 403, rl.Rate.Reset.Time, err)
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) && abuse.RetryAfter != nil {
		return p.errs.limited(op, 403, p.errs.now().Add(*abuse.RetryAfter), err)
	}
	return p.errs.fail(op, hr, err)
}

// ghStatus is resp's HTTP status, 0 without an answer.
func ghStatus(resp *github.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// Check verifies who the token belongs to, its scopes (classic tokens say
// them in X-OAuth-Scopes; fine-grained tokens are judged by their answers)
// and the owner.
func (p *githubProvider) Check(ctx context.Context) (Identity, error) {
	me, resp, err := p.client.Users.Get(ctx, "")
	if err != nil {
		return Identity{}, p.fail("read the token's user", resp, err)
	}
	if scopes, classic := resp.Header["X-Oauth-Scopes"]; classic && !hasScope(scopes, "repo") {
		return Identity{}, &Error{Op: "check the token's scopes", Status: 403, Code: onramp.EUNAUTHORIZED,
			Message: "the token lacks the `repo` scope, which creating private repositories needs: create a token with " + githubScopes}
	}
	login := me.GetLogin()
	if strings.EqualFold(login, p.conn.Owner) {
		return Identity{Login: login, Owner: login, OwnerKind: "user"}, nil
	}
	return p.checkOrg(ctx, login)
}

// hasScope reports whether the X-OAuth-Scopes values name scope.
func hasScope(values []string, scope string) bool {
	for _, v := range values {
		for _, s := range strings.Split(v, ",") {
			if strings.TrimSpace(s) == scope {
				return true
			}
		}
	}
	return false
}

// checkOrg checks that the owner is an organisation the user may create
// private repositories in: as an admin, or as a member where members may.
func (p *githubProvider) checkOrg(ctx context.Context, login string) (Identity, error) {
	op := "read organisation " + p.conn.Owner
	org, resp, err := p.client.Organizations.Get(ctx, p.conn.Owner)
	if ghStatus(resp) == http.StatusNotFound {
		return Identity{}, newError(op, 404, fmt.Sprintf("no organisation `%s` on %s, and it is not the token's user (%s): check the owner", p.conn.Owner, p.conn.URL, login), err)
	}
	if err != nil {
		return Identity{}, p.fail(op, resp, err)
	}
	m, resp, err := p.client.Organizations.GetOrgMembership(ctx, "", org.GetLogin())
	if ghStatus(resp) == http.StatusNotFound {
		return Identity{}, newError(op, 403, fmt.Sprintf("user %s is not a member of organisation `%s`: add it, or use another owner", login, org.GetLogin()), err)
	}
	if err != nil {
		return Identity{}, p.fail(op, resp, err)
	}
	if m.GetState() != "active" || (m.GetRole() != "admin" && !org.GetMembersCanCreatePrivateRepos()) {
		return Identity{}, newError(op, 403, fmt.Sprintf("user %s may not create private repositories in organisation `%s`: make it an owner, or let members create private repositories", login, org.GetLogin()), nil)
	}
	return Identity{Login: login, Owner: org.GetLogin(), OwnerKind: "organization"}, nil
}

// EnsureRepository creates the private repository Owner/name, or returns it
// when it exists and is onramp's.
func (p *githubProvider) EnsureRepository(ctx context.Context, name string) (Repo, error) {
	repo, err := p.Repository(ctx, name)
	if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return repo, err
	}
	me, resp, err := p.client.Users.Get(ctx, "")
	if err != nil {
		return Repo{}, p.fail("read the token's user", resp, err)
	}
	org := p.conn.Owner
	if strings.EqualFold(me.GetLogin(), org) {
		org = "" // the user's own account
	}
	r, resp, err := p.client.Repositories.Create(ctx, org, &github.Repository{
		Name: github.Ptr(name), Description: github.Ptr(description(name)), Private: github.Ptr(true),
	})
	if ghStatus(resp) == http.StatusUnprocessableEntity {
		return p.Repository(ctx, name) // "name already exists": a retry's or someone else's
	}
	if err != nil {
		return Repo{}, p.fail("create repository "+p.conn.Owner+"/"+name, resp, err)
	}
	return githubRepo(r), nil
}

// Repository returns onramp's repository Owner/name.
func (p *githubProvider) Repository(ctx context.Context, name string) (Repo, error) {
	op := "read repository " + p.conn.Owner + "/" + name
	r, resp, err := p.client.Repositories.Get(ctx, p.conn.Owner, name)
	if ghStatus(resp) == http.StatusNotFound {
		return Repo{}, newError(op, 404, fmt.Sprintf("repository %s/%s does not exist", p.conn.Owner, name), err)
	}
	if err != nil {
		return Repo{}, p.fail(op, resp, err)
	}
	if !isOnramps(r.GetDescription(), name) {
		return Repo{}, foreign(op, p.conn.Owner, name)
	}
	return githubRepo(r), nil
}

// githubRepo converts go-github's repository.
func githubRepo(r *github.Repository) Repo {
	sshURL, _, err := sshCloneURL(r.GetSSHURL())
	if err != nil {
		sshURL = ""
	}
	return Repo{Owner: r.GetOwner().GetLogin(), Name: r.GetName(), ID: r.GetID(), CloneURL: r.GetCloneURL(),
		SSHURL: sshURL, WebURL: r.GetHTMLURL(), DefaultBranch: r.GetDefaultBranch(), Private: r.GetPrivate()}
}

// DeleteRepository deletes onramp's repository; GitHub deletes its deploy
// keys and webhooks with it.
func (p *githubProvider) DeleteRepository(ctx context.Context, name string) error {
	op := "delete repository " + p.conn.Owner + "/" + name
	repo, err := p.Repository(ctx, name)
	switch onramp.ErrorCode(err) {
	case onramp.ENOTFOUND:
		return nil
	case onramp.ECONFLICT:
		return notOurs(op, p.conn.Owner, name)
	case "":
	default:
		return err
	}
	resp, err := p.client.Repositories.Delete(ctx, repo.Owner, repo.Name)
	if err != nil && ghStatus(resp) != http.StatusNotFound {
		return p.fail(op, resp, err)
	}
	return nil
}

// CommitMessage reads the commit with GET /repos/{owner}/{repo}/commits/{sha}.
// GitHub answers 422 ("No commit found for SHA") for a commit it does not
// have and 409 ("Git Repository is empty.") before the first push: for
// the caller both mean there is no such commit.
func (p *githubProvider) CommitMessage(ctx context.Context, repo Repo, sha string) (string, error) {
	op := "read commit " + sha + " of " + repo.FullName()
	c, resp, err := p.client.Repositories.GetCommit(ctx, repo.Owner, repo.Name, sha, nil)
	switch ghStatus(resp) {
	case http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusConflict:
		return "", newError(op, 404, fmt.Sprintf("%s has no commit %s", repo.FullName(), sha), err)
	}
	if err != nil {
		return "", p.fail(op, resp, err)
	}
	return c.GetCommit().GetMessage(), nil
}
