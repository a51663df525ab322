package gitprovider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
)

// giteaScopes are the token scopes onramp needs on Gitea.
const giteaScopes = "the `write:repository` and `write:user` scopes (`write:organization` for an organisation owner)"

// giteaProvider talks to Gitea with its official SDK.
type giteaProvider struct {
	gitClient
	conn Connection
}

// newGitea returns the Gitea provider of c.
func newGitea(c Connection) (*giteaProvider, error) {
	c.URL = strings.TrimSuffix(c.URL, "/")
	errs := classifier{name: "Gitea at " + c.URL, token: c.Token, scopes: giteaScopes, now: time.Now}
	return &giteaProvider{gitClient: gitClient{user: "oauth2", token: c.Token, errs: errs}, conn: c}, nil
}

// client returns an SDK client bound to ctx. The SDK keeps one context per
// client, so each call gets its own; none asks the server for its version.
func (p *giteaProvider) client(ctx context.Context) *gitea.Client {
	c, _ := gitea.NewClient(p.conn.URL, gitea.SetToken(p.conn.Token), gitea.SetHTTPClient(p.conn.HTTPClient),
		gitea.SetContext(ctx), gitea.SetGiteaVersion(""))
	return c
}

// fail classifies an SDK error.
func (p *giteaProvider) fail(op string, resp *gitea.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	return p.errs.fail(op, hr, err)
}

// status is resp's HTTP status, 0 without an answer.
func status(resp *gitea.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// Check verifies who the token belongs to and that it may create
// repositories under the owner.
func (p *giteaProvider) Check(ctx context.Context) (Identity, error) {
	c := p.client(ctx)
	me, resp, err := c.GetMyUserInfo()
	if err != nil {
		return Identity{}, p.fail("read the token's user", resp, err)
	}
	id := Identity{Login: me.UserName, Owner: me.UserName, OwnerKind: "user"}
	if !strings.EqualFold(p.conn.Owner, me.UserName) {
		if id, err = p.checkOrg(c, me.UserName); err != nil {
			return id, err
		}
	}
	return id, p.probeCreate(ctx, id)
}

// checkOrg checks that the owner is an organisation the user may create
// repositories in.
func (p *giteaProvider) checkOrg(c *gitea.Client, login string) (Identity, error) {
	op := "read organisation " + p.conn.Owner
	org, resp, err := c.GetOrg(p.conn.Owner)
	if status(resp) == http.StatusNotFound {
		return Identity{}, newError(op, 404, fmt.Sprintf("no organisation `%s` on %s, and it is not the token's user (%s): check the owner", p.conn.Owner, p.conn.URL, login), err)
	}
	if err != nil {
		return Identity{}, p.fail(op, resp, err)
	}
	perms, resp, err := c.GetOrgPermissions(org.UserName, login)
	if err != nil {
		return Identity{}, p.fail(op, resp, err)
	}
	if !perms.CanCreateRepository {
		return Identity{}, newError(op, 403, fmt.Sprintf("user %s may not create repositories in organisation `%s`: make it an owner or give one of its teams the right to create repositories", login, org.UserName), nil)
	}
	return Identity{Login: login, Owner: org.UserName, OwnerKind: "organization"}, nil
}

// probeCreate asks Gitea to create a repository with no name: a token
// without the scope is refused (403) before the request is read, one with
// it gets 422, and nothing is created either way.
func (p *giteaProvider) probeCreate(ctx context.Context, id Identity) error {
	path := "/api/v1/user/repos"
	if id.OwnerKind == "organization" {
		path = "/api/v1/orgs/" + id.Owner + "/repos"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.conn.URL+path, strings.NewReader(`{"name":""}`))
	if err != nil {
		return fmt.Errorf("check repository creation: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "token "+p.conn.Token)
	resp, err := p.conn.HTTPClient.Do(req)
	if err != nil {
		return p.errs.fail("check repository creation", nil, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		scope := "`write:user`"
		if id.OwnerKind == "organization" {
			scope = "`write:organization`"
		}
		return &Error{Op: "check repository creation", Status: resp.StatusCode, Code: onramp.EUNAUTHORIZED,
			Message: fmt.Sprintf("the token lacks the %s scope, which creating repositories under %s needs: create a token with %s", scope, id.Owner, giteaScopes)}
	}
	return nil
}

// EnsureRepository creates the private repository Owner/name, or returns it
// when it exists and is onramp's.
func (p *giteaProvider) EnsureRepository(ctx context.Context, name string) (Repo, error) {
	op := "create repository " + p.conn.Owner + "/" + name
	c := p.client(ctx)
	repo, err := p.Repository(ctx, name)
	if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return repo, err
	}
	opt := gitea.CreateRepoOption{Name: name, Description: description(name), Private: true, DefaultBranch: "main"}
	me, resp, err := c.GetMyUserInfo()
	if err != nil {
		return Repo{}, p.fail("read the token's user", resp, err)
	}
	var r *gitea.Repository
	if strings.EqualFold(me.UserName, p.conn.Owner) {
		r, resp, err = c.CreateRepo(opt)
	} else {
		r, resp, err = c.CreateOrgRepo(p.conn.Owner, opt)
	}
	if status(resp) == http.StatusConflict {
		return p.Repository(ctx, name) // created meanwhile, by a retry or someone else
	}
	if err != nil {
		return Repo{}, p.fail(op, resp, err)
	}
	return p.repo(r)
}

// Repository returns onramp's repository Owner/name.
func (p *giteaProvider) Repository(ctx context.Context, name string) (Repo, error) {
	op := "read repository " + p.conn.Owner + "/" + name
	r, resp, err := p.client(ctx).GetRepo(p.conn.Owner, name)
	if status(resp) == http.StatusNotFound {
		return Repo{}, newError(op, 404, fmt.Sprintf("repository %s/%s does not exist", p.conn.Owner, name), err)
	}
	if err != nil {
		return Repo{}, p.fail(op, resp, err)
	}
	if !isOnramps(r.Description, name) {
		return Repo{}, foreign(op, p.conn.Owner, name)
	}
	return p.repo(r)
}

// repo converts the SDK's repository.
func (p *giteaProvider) repo(r *gitea.Repository) (Repo, error) {
	sshURL, _, err := sshCloneURL(r.SSHURL)
	if err != nil {
		sshURL = ""
	}
	owner := p.conn.Owner
	if r.Owner != nil {
		owner = r.Owner.UserName
	}
	return Repo{Owner: owner, Name: r.Name, ID: r.ID, CloneURL: r.CloneURL, SSHURL: sshURL, WebURL: r.HTMLURL,
		DefaultBranch: r.DefaultBranch, Private: r.Private}, nil
}

// DeleteRepository deletes onramp's repository; Gitea deletes its deploy
// keys and webhooks with it.
func (p *giteaProvider) DeleteRepository(ctx context.Context, name string) error {
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
	resp, err := p.client(ctx).DeleteRepo(repo.Owner, repo.Name)
	if err != nil && status(resp) != http.StatusNotFound {
		return p.fail(op, resp, err)
	}
	return nil
}

// CommitMessage reads the commit with GET /repos/{owner}/{repo}/git/commits/{sha}.
func (p *giteaProvider) CommitMessage(ctx context.Context, repo Repo, sha string) (string, error) {
	op := "read commit " + sha + " of " + repo.FullName()
	c, resp, err := p.client(ctx).GetSingleCommit(repo.Owner, repo.Name, sha)
	if status(resp) == http.StatusNotFound {
		return "", newError(op, 404, fmt.Sprintf("%s has no commit %s", repo.FullName(), sha), err)
	}
	if err != nil {
		return "", p.fail(op, resp, err)
	}
	if c.RepoCommit == nil {
		return "", &Error{Op: op, Status: status(resp), Code: onramp.EINTERNAL, Message: "Gitea answered a commit without its message"}
	}
	return c.RepoCommit.Message, nil
}
