package gitprovider

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-github/v89/github"

	"github.com/onramp/onramp"
)

// EnsureDeployCredential installs a read-only deploy key titled
// onramp-flux-<repo>, trusted with the SSH host keys GitHub publishes in
// GET /meta (or the connection's pinned ones).
func (p *githubProvider) EnsureDeployCredential(ctx context.Context, repo Repo, existing *DeployCredential) (DeployCredential, error) {
	op := "install deploy key on " + repo.FullName()
	url, hostPort, err := sshCloneURL(repo.SSHURL)
	if err != nil {
		return DeployCredential{}, fmt.Errorf("%s: %w", op, err)
	}
	knownHosts, err := p.knownHosts(ctx, op, hostPort)
	if err != nil {
		return DeployCredential{}, err
	}
	keys, err := p.deployKeys(ctx, repo)
	if err != nil {
		return DeployCredential{}, err
	}
	title := deployKeyTitle(repo.Name)
	for _, k := range keys {
		if k.GetTitle() != title {
			continue
		}
		if existing != nil && k.GetReadOnly() && sameKey(k.GetKey(), existing.PublicKey) {
			cred := *existing
			cred.ID, cred.URL, cred.KnownHosts = k.GetID(), url, knownHosts
			return cred, nil
		}
		if resp, err := p.client.Repositories.DeleteKey(ctx, repo.Owner, repo.Name, k.GetID()); err != nil && ghStatus(resp) != http.StatusNotFound {
			return DeployCredential{}, p.fail(op, resp, err)
		}
	}
	identity, public, err := newDeployKey(title)
	if err != nil {
		return DeployCredential{}, err
	}
	k, resp, err := p.client.Repositories.CreateKey(ctx, repo.Owner, repo.Name, &github.Key{Title: github.Ptr(title), Key: github.Ptr(public), ReadOnly: github.Ptr(true)})
	if err != nil {
		return DeployCredential{}, p.fail(op, resp, err)
	}
	return DeployCredential{Title: title, ID: k.GetID(), URL: url, Identity: identity, PublicKey: public, KnownHosts: knownHosts}, nil
}

// knownHosts returns known_hosts lines for hostPort from the SSH keys
// GitHub publishes, so that nothing is trusted on first use.
func (p *githubProvider) knownHosts(ctx context.Context, op, hostPort string) (string, error) {
	if p.conn.KnownHosts != "" {
		return p.conn.KnownHosts, nil
	}
	meta, resp, err := p.client.Meta.Get(ctx)
	if err != nil {
		return "", p.fail(op, resp, err)
	}
	host, port, _ := net.SplitHostPort(hostPort)
	if port != "22" {
		host = "[" + host + "]:" + port
	}
	var lines []string
	for _, k := range meta.SSHKeys {
		lines = append(lines, host+" "+k)
	}
	if len(lines) == 0 {
		return "", &Error{Op: op, Code: onramp.EUNAVAILABLE, Retry: true, Message: "GitHub's GET /meta listed no SSH host keys: onramp tries again"}
	}
	return strings.Join(lines, "\n"), nil
}

// RemoveDeployCredential removes onramp's deploy keys from the repository.
func (p *githubProvider) RemoveDeployCredential(ctx context.Context, repo Repo) error {
	keys, err := p.deployKeys(ctx, repo)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.GetTitle() != deployKeyTitle(repo.Name) {
			continue
		}
		if resp, err := p.client.Repositories.DeleteKey(ctx, repo.Owner, repo.Name, k.GetID()); err != nil && ghStatus(resp) != http.StatusNotFound {
			return p.fail("remove deploy key from "+repo.FullName(), resp, err)
		}
	}
	return nil
}

// deployKeys lists every deploy key of repo, following the Link header.
func (p *githubProvider) deployKeys(ctx context.Context, repo Repo) ([]*github.Key, error) {
	var all []*github.Key
	opts := &github.ListOptions{PerPage: 100}
	for {
		keys, resp, err := p.client.Repositories.ListKeys(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, p.fail("list deploy keys of "+repo.FullName(), resp, err)
		}
		all = append(all, keys...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// EnsureWebhook registers a push webhook to url signed with secret, or
// updates the one registered to url, since a secret cannot be read back.
func (p *githubProvider) EnsureWebhook(ctx context.Context, repo Repo, url, secret string) error {
	op := "register webhook on " + repo.FullName()
	hooks, err := p.hooks(ctx, repo)
	if err != nil {
		return err
	}
	hook := &github.Hook{
		Config: &github.HookConfig{URL: github.Ptr(url), ContentType: github.Ptr("json"), Secret: github.Ptr(secret), InsecureSSL: github.Ptr("0")},
		Events: []string{"push"}, Active: github.Ptr(true),
	}
	for _, h := range hooks {
		if h.GetConfig().GetURL() == url {
			_, resp, err := p.client.Repositories.EditHook(ctx, repo.Owner, repo.Name, h.GetID(), hook)
			if err != nil {
				return p.fail(op, resp, err)
			}
			return nil
		}
	}
	hook.Name = github.Ptr("web")
	if _, resp, err := p.client.Repositories.CreateHook(ctx, repo.Owner, repo.Name, hook); err != nil {
		return p.fail(op, resp, err)
	}
	return nil
}

// RemoveWebhook removes the webhooks registered to url.
func (p *githubProvider) RemoveWebhook(ctx context.Context, repo Repo, url string) error {
	hooks, err := p.hooks(ctx, repo)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if h.GetConfig().GetURL() != url {
			continue
		}
		if resp, err := p.client.Repositories.DeleteHook(ctx, repo.Owner, repo.Name, h.GetID()); err != nil && ghStatus(resp) != http.StatusNotFound {
			return p.fail("remove webhook from "+repo.FullName(), resp, err)
		}
	}
	return nil
}

// hooks lists every webhook of repo, following the Link header.
func (p *githubProvider) hooks(ctx context.Context, repo Repo) ([]*github.Hook, error) {
	var all []*github.Hook
	opts := &github.ListOptions{PerPage: 100}
	for {
		hooks, resp, err := p.client.Repositories.ListHooks(ctx, repo.Owner, repo.Name, opts)
		if err != nil {
			return nil, p.fail("list webhooks of "+repo.FullName(), resp, err)
		}
		all = append(all, hooks...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// VerifyWebhook checks X-Hub-Signature-256 (SHA-1 signatures are refused).
func (p *githubProvider) VerifyWebhook(r *http.Request, body []byte, secret string) (PushEvent, error) {
	sig := r.Header.Get(github.SHA256SignatureHeader)
	if !strings.HasPrefix(sig, "sha256=") || secret == "" || github.ValidateSignature(sig, body, []byte(secret)) != nil {
		return PushEvent{}, badSignature(github.SHA256SignatureHeader)
	}
	return decodePush(github.WebHookType(r), body)
}
