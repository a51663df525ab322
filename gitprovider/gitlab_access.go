package gitprovider

import (
	"context"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// EnsureDeployCredential installs a project deploy token with
// read_repository, for Flux to clone over HTTPS. GitLab shows a token's
// value only when it is created: while existing's token is still active it
// is returned again, otherwise the tokens of that name are revoked and a new
// one is made.
func (p *gitlabProvider) EnsureDeployCredential(ctx context.Context, repo Repo, existing *DeployCredential) (DeployCredential, error) {
	op := "create deploy token on " + repo.FullName()
	tokens, err := p.deployTokens(ctx, repo)
	if err != nil {
		return DeployCredential{}, err
	}
	title := deployKeyTitle(repo.Name)
	for _, t := range tokens {
		if t.Name != title {
			continue
		}
		if existing != nil && existing.ID == t.ID && !t.Revoked && !t.Expired {
			cred := *existing
			cred.URL = repo.CloneURL
			return cred, nil
		}
		if resp, err := p.client.DeployTokens.DeleteProjectDeployToken(repo.ID, t.ID, gitlab.WithContext(ctx)); err != nil && glStatus(resp) != http.StatusNotFound {
			return DeployCredential{}, p.fail(op, resp, err)
		}
	}
	t, resp, err := p.client.DeployTokens.CreateProjectDeployToken(repo.ID, &gitlab.CreateProjectDeployTokenOptions{
		Name: gitlab.Ptr(title), Scopes: gitlab.Ptr([]string{"read_repository"}),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return DeployCredential{}, p.fail(op, resp, err)
	}
	return DeployCredential{Title: title, ID: t.ID, URL: repo.CloneURL, Username: t.Username, Password: t.Token}, nil
}

// RemoveDeployCredential revokes onramp's deploy tokens of the project.
func (p *gitlabProvider) RemoveDeployCredential(ctx context.Context, repo Repo) error {
	tokens, err := p.deployTokens(ctx, repo)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.Name != deployKeyTitle(repo.Name) {
			continue
		}
		if resp, err := p.client.DeployTokens.DeleteProjectDeployToken(repo.ID, t.ID, gitlab.WithContext(ctx)); err != nil && glStatus(resp) != http.StatusNotFound {
			return p.fail("revoke deploy token of "+repo.FullName(), resp, err)
		}
	}
	return nil
}

// deployTokens lists every deploy token of the project, page after page
// (X-Next-Page).
func (p *gitlabProvider) deployTokens(ctx context.Context, repo Repo) ([]*gitlab.DeployToken, error) {
	var all []*gitlab.DeployToken
	opt := &gitlab.ListProjectDeployTokensOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1}}
	for {
		tokens, resp, err := p.client.DeployTokens.ListProjectDeployTokens(repo.ID, opt, gitlab.WithContext(ctx))
		if err != nil {
			return nil, p.fail("list deploy tokens of "+repo.FullName(), resp, err)
		}
		all = append(all, tokens...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opt.Page = resp.NextPage
	}
}

// EnsureWebhook registers a push webhook to url whose deliveries carry
// secret in X-Gitlab-Token, or updates the one registered to url.
func (p *gitlabProvider) EnsureWebhook(ctx context.Context, repo Repo, url, secret string) error {
	op := "register webhook on " + repo.FullName()
	hooks, err := p.hooks(ctx, repo)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if h.URL == url {
			_, resp, err := p.client.Projects.EditProjectHook(repo.ID, h.ID, &gitlab.EditProjectHookOptions{
				URL: gitlab.Ptr(url), PushEvents: gitlab.Ptr(true), Token: gitlab.Ptr(secret), EnableSSLVerification: gitlab.Ptr(true),
			}, gitlab.WithContext(ctx))
			if err != nil {
				return p.fail(op, resp, err)
			}
			return nil
		}
	}
	_, resp, err := p.client.Projects.AddProjectHook(repo.ID, &gitlab.AddProjectHookOptions{
		Name: gitlab.Ptr("onramp"), URL: gitlab.Ptr(url), PushEvents: gitlab.Ptr(true), Token: gitlab.Ptr(secret), EnableSSLVerification: gitlab.Ptr(true),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return p.fail(op, resp, err)
	}
	return nil
}

// RemoveWebhook removes the webhooks registered to url.
func (p *gitlabProvider) RemoveWebhook(ctx context.Context, repo Repo, url string) error {
	hooks, err := p.hooks(ctx, repo)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if h.URL != url {
			continue
		}
		if resp, err := p.client.Projects.DeleteProjectHook(repo.ID, h.ID, gitlab.WithContext(ctx)); err != nil && glStatus(resp) != http.StatusNotFound {
			return p.fail("remove webhook from "+repo.FullName(), resp, err)
		}
	}
	return nil
}

// hooks lists every webhook of the project, page after page.
func (p *gitlabProvider) hooks(ctx context.Context, repo Repo) ([]*gitlab.ProjectHook, error) {
	var all []*gitlab.ProjectHook
	opt := &gitlab.ListProjectHooksOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1}}
	for {
		hooks, resp, err := p.client.Projects.ListProjectHooks(repo.ID, opt, gitlab.WithContext(ctx))
		if err != nil {
			return nil, p.fail("list webhooks of "+repo.FullName(), resp, err)
		}
		all = append(all, hooks...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opt.Page = resp.NextPage
	}
}

// VerifyWebhook checks X-Gitlab-Token, the secret itself: GitLab does not
// sign deliveries.
func (p *gitlabProvider) VerifyWebhook(r *http.Request, body []byte, secret string) (PushEvent, error) {
	if !validToken(r.Header.Get("X-Gitlab-Token"), secret) {
		return PushEvent{}, badSignature("X-Gitlab-Token")
	}
	event := r.Header.Get("X-Gitlab-Event")
	if event == "Push Hook" {
		event = "push"
	}
	return decodePush(event, body)
}
