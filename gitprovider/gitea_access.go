package gitprovider

import (
	"context"
	"fmt"
	"net/http"

	"code.gitea.io/sdk/gitea"
)

// EnsureDeployCredential installs a read-only deploy key titled
// onramp-flux-<repo>. A key of that title that is not existing's is
// replaced: its private half is not onramp's to know.
func (p *giteaProvider) EnsureDeployCredential(ctx context.Context, repo Repo, existing *DeployCredential) (DeployCredential, error) {
	op := "install deploy key on " + repo.FullName()
	url, hostPort, err := sshCloneURL(repo.SSHURL)
	if err != nil {
		return DeployCredential{}, fmt.Errorf("%s: %w", op, err)
	}
	knownHosts, err := knownHostsFor(ctx, p.conn, p.errs, op, hostPort)
	if err != nil {
		return DeployCredential{}, err
	}
	keys, err := p.deployKeys(ctx, repo)
	if err != nil {
		return DeployCredential{}, err
	}
	title := deployKeyTitle(repo.Name)
	c := p.client(ctx)
	for _, k := range keys {
		if k.Title != title {
			continue
		}
		if existing != nil && k.ReadOnly && sameKey(k.Key, existing.PublicKey) {
			cred := *existing
			cred.ID, cred.URL, cred.KnownHosts = k.ID, url, knownHosts
			return cred, nil
		}
		if resp, err := c.DeleteDeployKey(repo.Owner, repo.Name, k.ID); err != nil && status(resp) != http.StatusNotFound {
			return DeployCredential{}, p.fail(op, resp, err)
		}
	}
	identity, public, err := newDeployKey(title)
	if err != nil {
		return DeployCredential{}, err
	}
	k, resp, err := c.CreateDeployKey(repo.Owner, repo.Name, gitea.CreateKeyOption{Title: title, Key: public, ReadOnly: true})
	if err != nil {
		return DeployCredential{}, p.fail(op, resp, err)
	}
	return DeployCredential{Title: title, ID: k.ID, URL: url, Identity: identity, PublicKey: public, KnownHosts: knownHosts}, nil
}

// RemoveDeployCredential removes onramp's deploy keys from the repository.
func (p *giteaProvider) RemoveDeployCredential(ctx context.Context, repo Repo) error {
	keys, err := p.deployKeys(ctx, repo)
	if err != nil {
		return err
	}
	c := p.client(ctx)
	for _, k := range keys {
		if k.Title != deployKeyTitle(repo.Name) {
			continue
		}
		if resp, err := c.DeleteDeployKey(repo.Owner, repo.Name, k.ID); err != nil && status(resp) != http.StatusNotFound {
			return p.fail("remove deploy key from "+repo.FullName(), resp, err)
		}
	}
	return nil
}

// deployKeys lists every deploy key of repo, page after page.
func (p *giteaProvider) deployKeys(ctx context.Context, repo Repo) ([]*gitea.DeployKey, error) {
	c := p.client(ctx)
	var all []*gitea.DeployKey
	for page := 1; page > 0; {
		keys, resp, err := c.ListDeployKeys(repo.Owner, repo.Name, gitea.ListDeployKeysOptions{ListOptions: gitea.ListOptions{Page: page, PageSize: 50}})
		if err != nil {
			return nil, p.fail("list deploy keys of "+repo.FullName(), resp, err)
		}
		all = append(all, keys...)
		page = resp.NextPage
	}
	return all, nil
}

// EnsureWebhook registers a Gitea push webhook to url signed with secret,
// or updates the one registered to url, since a secret cannot be read back.
func (p *giteaProvider) EnsureWebhook(ctx context.Context, repo Repo, url, secret string) error {
	op := "register webhook on " + repo.FullName()
	hooks, err := p.hooks(ctx, repo)
	if err != nil {
		return err
	}
	c := p.client(ctx)
	config := map[string]string{"url": url, "content_type": "json", "secret": secret}
	active := true
	for _, h := range hooks {
		if h.Config["url"] == url {
			resp, err := c.EditRepoHook(repo.Owner, repo.Name, h.ID, gitea.EditHookOption{Config: config, Events: []string{"push"}, Active: &active})
			if err != nil {
				return p.fail(op, resp, err)
			}
			return nil
		}
	}
	_, resp, err := c.CreateRepoHook(repo.Owner, repo.Name, gitea.CreateHookOption{Type: gitea.HookTypeGitea, Config: config, Events: []string{"push"}, Active: true})
	if err != nil {
		return p.fail(op, resp, err)
	}
	return nil
}

// RemoveWebhook removes the webhooks registered to url.
func (p *giteaProvider) RemoveWebhook(ctx context.Context, repo Repo, url string) error {
	hooks, err := p.hooks(ctx, repo)
	if err != nil {
		return err
	}
	c := p.client(ctx)
	for _, h := range hooks {
		if h.Config["url"] != url {
			continue
		}
		if resp, err := c.DeleteRepoHook(repo.Owner, repo.Name, h.ID); err != nil && status(resp) != http.StatusNotFound {
			return p.fail("remove webhook from "+repo.FullName(), resp, err)
		}
	}
	return nil
}

// hooks lists every webhook of repo, page after page.
func (p *giteaProvider) hooks(ctx context.Context, repo Repo) ([]*gitea.Hook, error) {
	c := p.client(ctx)
	var all []*gitea.Hook
	for page := 1; page > 0; {
		hooks, resp, err := c.ListRepoHooks(repo.Owner, repo.Name, gitea.ListHooksOptions{ListOptions: gitea.ListOptions{Page: page, PageSize: 50}})
		if err != nil {
			return nil, p.fail("list webhooks of "+repo.FullName(), resp, err)
		}
		all = append(all, hooks...)
		page = resp.NextPage
	}
	return all, nil
}

// VerifyWebhook checks X-Gitea-Signature, the hex HMAC-SHA256 of the body.
func (p *giteaProvider) VerifyWebhook(r *http.Request, body []byte, secret string) (PushEvent, error) {
	if !validHMAC(body, secret, r.Header.Get("X-Gitea-Signature")) {
		return PushEvent{}, badSignature("X-Gitea-Signature")
	}
	return decodePush(r.Header.Get("X-Gitea-Event"), body)
}
