package gitprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/onramp/onramp"
)

// gitlabScopes is the token scope onramp needs on GitLab.
const gitlabScopes = "the `api` scope and the Maintainer role in the group"

// gitlabProvider talks to GitLab with its official client.
type gitlabProvider struct {
	gitClient
	conn   Connection
	client *gitlab.Client
}

// newGitLab returns the GitLab provider of c (gitlab.com or self-managed).
// The client's own retries are off: the caller retries, logging each
// attempt, and waits for rate limits as the classified errors say.
func newGitLab(c Connection) (*gitlabProvider, error) {
	c.URL = strings.TrimSuffix(c.URL, "/")
	client, err := gitlab.NewClient(c.Token, gitlab.WithBaseURL(c.URL+"/api/v4"), gitlab.WithHTTPClient(c.HTTPClient), gitlab.WithoutRetries())
	if err != nil {
		return nil, onramp.FieldErrorf("url", "%q is not a GitLab URL: %v", c.URL, err)
	}
	errs := classifier{name: "GitLab at " + c.URL, token: c.Token, scopes: gitlabScopes, now: time.Now}
	return &gitlabProvider{gitClient: gitClient{user: "oauth2", token: c.Token, errs: errs}, conn: c, client: client}, nil
}

// fail classifies a client error.
func (p *gitlabProvider) fail(op string, resp *gitlab.Response, err error) error {
	var hr *http.Response
	if resp != nil {
		hr = resp.Response
	}
	var er *gitlab.ErrorResponse
	if hr == nil && errors.As(err, &er) {
		hr = er.Response
	}
	return p.errs.fail(op, hr, err)
}

// glStatus is resp's HTTP status, 0 without an answer.
func glStatus(resp *gitlab.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// path is the project's path with namespace, which GitLab takes as its id.
func (p *gitlabProvider) path(name string) string { return p.conn.Owner + "/" + name }

// Check verifies who the token belongs to, that it has the api scope, and
// that its user may create projects in the owner group.
func (p *gitlabProvider) Check(ctx context.Context) (Identity, error) {
	me, resp, err := p.client.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		return Identity{}, p.fail("read the token's user", resp, err)
	}
	tok, resp, err := p.client.PersonalAccessTokens.GetSinglePersonalAccessToken(gitlab.WithContext(ctx))
	if err != nil {
		return Identity{}, p.fail("read the token's scopes", resp, err)
	}
	if !slices.Contains(tok.Scopes, "api") {
		return Identity{}, &Error{Op: "check the token's scopes", Status: 403, Code: onramp.EUNAUTHORIZED,
			Message: "the token lacks the `api` scope, which creating projects, deploy tokens and webhooks needs: create a token with " + gitlabScopes}
	}
	if strings.EqualFold(me.Username, p.conn.Owner) {
		return Identity{Login: me.Username, Owner: me.Username, OwnerKind: "user"}, nil
	}
	return p.checkGroup(ctx, me)
}

// checkGroup checks that the owner is a group whose project creation level
// the user's role reaches.
func (p *gitlabProvider) checkGroup(ctx context.Context, me *gitlab.User) (Identity, error) {
	op := "read group " + p.conn.Owner
	g, resp, err := p.client.Groups.GetGroup(p.conn.Owner, &gitlab.GetGroupOptions{}, gitlab.WithContext(ctx))
	if glStatus(resp) == http.StatusNotFound {
		return Identity{}, newError(op, 404, fmt.Sprintf("no group `%s` on %s, and it is not the token's user (%s): check the owner", p.conn.Owner, p.conn.URL, me.Username), err)
	}
	if err != nil {
		return Identity{}, p.fail(op, resp, err)
	}
	member, resp, err := p.client.GroupMembers.GetInheritedGroupMember(g.ID, me.ID, gitlab.WithContext(ctx))
	if glStatus(resp) == http.StatusNotFound {
		return Identity{}, newError(op, 403, fmt.Sprintf("user %s is not a member of group `%s`: add it as a Maintainer", me.Username, g.FullPath), err)
	}
	if err != nil {
		return Identity{}, p.fail(op, resp, err)
	}
	need := map[gitlab.ProjectCreationLevelValue]gitlab.AccessLevelValue{
		gitlab.DeveloperProjectCreation: gitlab.DeveloperPermissions,
		gitlab.OwnerProjectCreation:     gitlab.OwnerPermissions,
		gitlab.NoOneProjectCreation:     gitlab.AdminPermissions + 1,
	}[g.ProjectCreationLevel]
	if need == 0 {
		need = gitlab.MaintainerPermissions
	}
	if member.AccessLevel < need {
		return Identity{}, newError(op, 403, fmt.Sprintf("user %s may not create projects in group `%s` (its role is too low for the group's project creation level %q): make it a Maintainer", me.Username, g.FullPath, g.ProjectCreationLevel), nil)
	}
	return Identity{Login: me.Username, Owner: g.FullPath, OwnerKind: "group"}, nil
}

// EnsureRepository creates the private project Owner/name, or returns it
// when it exists and is onramp's.
func (p *gitlabProvider) EnsureRepository(ctx context.Context, name string) (Repo, error) {
	repo, err := p.Repository(ctx, name)
	if onramp.ErrorCode(err) != onramp.ENOTFOUND {
		return repo, err
	}
	opt := &gitlab.CreateProjectOptions{Name: gitlab.Ptr(name), Path: gitlab.Ptr(name), Description: gitlab.Ptr(description(name)),
		Visibility: gitlab.Ptr(gitlab.PrivateVisibility), DefaultBranch: gitlab.Ptr("main")}
	me, resp, err := p.client.Users.CurrentUser(gitlab.WithContext(ctx))
	if err != nil {
		return Repo{}, p.fail("read the token's user", resp, err)
	}
	if !strings.EqualFold(me.Username, p.conn.Owner) {
		g, resp, err := p.client.Groups.GetGroup(p.conn.Owner, &gitlab.GetGroupOptions{}, gitlab.WithContext(ctx))
		if err != nil {
			return Repo{}, p.fail("read group "+p.conn.Owner, resp, err)
		}
		opt.NamespaceID = gitlab.Ptr(g.ID)
	}
	proj, resp, err := p.client.Projects.CreateProject(opt, gitlab.WithContext(ctx))
	if glStatus(resp) == http.StatusBadRequest && strings.Contains(errText(err), "has already been taken") {
		return p.Repository(ctx, name) // a retry's or someone else's
	}
	if err != nil {
		return Repo{}, p.fail("create project "+p.path(name), resp, err)
	}
	return gitlabRepo(proj), nil
}

// Repository returns onramp's project Owner/name.
func (p *gitlabProvider) Repository(ctx context.Context, name string) (Repo, error) {
	op := "read project " + p.path(name)
	proj, resp, err := p.client.Projects.GetProject(p.path(name), &gitlab.GetProjectOptions{}, gitlab.WithContext(ctx))
	if glStatus(resp) == http.StatusNotFound {
		return Repo{}, newError(op, 404, fmt.Sprintf("project %s does not exist", p.path(name)), err)
	}
	if err != nil {
		return Repo{}, p.fail(op, resp, err)
	}
	if !isOnramps(proj.Description, name) {
		return Repo{}, foreign(op, p.conn.Owner, name)
	}
	return gitlabRepo(proj), nil
}

// gitlabRepo converts the client's project.
func gitlabRepo(proj *gitlab.Project) Repo {
	sshURL, _, err := sshCloneURL(proj.SSHURLToRepo)
	if err != nil {
		sshURL = ""
	}
	owner, _ := strings.CutSuffix(proj.PathWithNamespace, "/"+proj.Path)
	return Repo{Owner: owner, Name: proj.Path, ID: proj.ID, CloneURL: proj.HTTPURLToRepo, SSHURL: sshURL, WebURL: proj.WebURL,
		DefaultBranch: proj.DefaultBranch, Private: proj.Visibility == gitlab.PrivateVisibility}
}

// DeleteRepository deletes onramp's project; GitLab deletes its deploy
// tokens and webhooks with it.
func (p *gitlabProvider) DeleteRepository(ctx context.Context, name string) error {
	op := "delete project " + p.path(name)
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
	resp, err := p.client.Projects.DeleteProject(repo.ID, &gitlab.DeleteProjectOptions{}, gitlab.WithContext(ctx))
	if err != nil && glStatus(resp) != http.StatusNotFound {
		return p.fail(op, resp, err)
	}
	return nil
}

// CommitMessage reads the commit with GET
// /projects/:id/repository/commits/:sha, without the stats GitLab would
// otherwise compute.
func (p *gitlabProvider) CommitMessage(ctx context.Context, repo Repo, sha string) (string, error) {
	op := "read commit " + sha + " of " + repo.FullName()
	c, resp, err := p.client.Commits.GetCommit(repo.ID, sha, &gitlab.GetCommitOptions{Stats: gitlab.Ptr(false)}, gitlab.WithContext(ctx))
	if glStatus(resp) == http.StatusNotFound {
		return "", newError(op, 404, fmt.Sprintf("%s has no commit %s", repo.FullName(), sha), err)
	}
	if err != nil {
		return "", p.fail(op, resp, err)
	}
	return c.Message, nil
}
