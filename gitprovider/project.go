package gitprovider

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/onramp/onramp"
)

// Credentials keeps a project's secrets sealed (store.DB).
type Credentials interface {
	// Credential returns the project's named secret; an error matching
	// sql.ErrNoRows when there is none.
	Credential(ctx context.Context, projectID int64, name string) (string, error)
	// SetCredential stores the project's named secret, replacing any.
	SetCredential(ctx context.Context, projectID int64, name, value string) error
	// EnsureCredential returns the project's named secret, creating it
	// with generate on first use.
	EnsureCredential(ctx context.Context, projectID int64, name string, generate func() string) (string, error)
}

// Project is a provider as one project's jobs see it, an
// onramp.GitProvider: the repository Owner/<project>, cloned by Flux with
// its own read-only credential, kept sealed so that a retry hands the same
// one back.
type Project struct {
	Provider    Provider
	Credentials Credentials
	// ID is the project's.
	ID int64
	// HookURL is where the provider delivers the repository's pushes;
	// "" registers no webhook (Flux then polls).
	HookURL string

	repo *Repo // as the provider last reported it
}

var _ onramp.GitProvider = (*Project)(nil)

// CreateRepository creates the private repository, or takes the one
// onramp created before; one that is not onramp's is ECONFLICT.
func (p *Project) CreateRepository(ctx context.Context, project string) (onramp.Repository, error) {
	repo, err := p.Provider.EnsureRepository(ctx, project)
	if err != nil {
		return onramp.Repository{}, err
	}
	p.repo = &repo
	return onramp.Repository{URL: repo.CloneURL, Branch: repo.DefaultBranch}, nil
}

// repository returns onramp's repository for project.
func (p *Project) repository(ctx context.Context, project string) (Repo, error) {
	if p.repo != nil && p.repo.Name == project {
		return *p.repo, nil
	}
	repo, err := p.Provider.Repository(ctx, project)
	if err != nil {
		return Repo{}, err
	}
	p.repo = &repo
	return repo, nil
}

// Commit pushes files as the whole tree of the default branch.
func (p *Project) Commit(ctx context.Context, project string, files onramp.Files, message string) (string, error) {
	repo, err := p.repository(ctx, project)
	if err != nil {
		return "", err
	}
	return p.Provider.Push(ctx, repo, files, message)
}

// Head returns the default branch's head.
func (p *Project) Head(ctx context.Context, project string) (string, error) {
	repo, err := p.repository(ctx, project)
	if err != nil {
		return "", err
	}
	return p.Provider.Head(ctx, repo)
}

// CommitMessage reads the commit at revision from the provider.
func (p *Project) CommitMessage(ctx context.Context, project, revision string) (string, error) {
	sha, err := onramp.RevisionSHA(revision)
	if err != nil {
		return "", err
	}
	repo, err := p.repository(ctx, project)
	if err != nil {
		return "", err
	}
	msg, err := p.Provider.CommitMessage(ctx, repo, sha)
	return strings.TrimRight(msg, "\n"), err
}

// DeleteRepository deletes onramp's repository, with its keys.
func (p *Project) DeleteRepository(ctx context.Context, project string) error {
	p.repo = nil
	return p.Provider.DeleteRepository(ctx, project)
}

// DeployCredential installs the repository's read-only credential, or
// hands back the one kept sealed while the provider still holds it.
func (p *Project) DeployCredential(ctx context.Context, project string) (onramp.GitCredential, error) {
	repo, err := p.repository(ctx, project)
	if err != nil {
		return onramp.GitCredential{}, err
	}
	existing, err := p.kept(ctx)
	if err != nil {
		return onramp.GitCredential{}, err
	}
	cred, err := p.Provider.EnsureDeployCredential(ctx, repo, existing)
	if err != nil {
		return onramp.GitCredential{}, err
	}
	if existing == nil || existing.ID != cred.ID || existing.PublicKey != cred.PublicKey ||
		existing.Password != cred.Password || existing.KnownHosts != cred.KnownHosts || existing.URL != cred.URL {
		if err := p.keep(ctx, cred); err != nil {
			return onramp.GitCredential{}, err
		}
	}
	return onramp.GitCredential{URL: cred.URL, Data: cred.SecretData()}, nil
}

// kept returns the credential kept sealed, or nil.
func (p *Project) kept(ctx context.Context) (*DeployCredential, error) {
	v, err := p.Credentials.Credential(ctx, p.ID, onramp.GitDeployCredential)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c DeployCredential
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return nil, fmt.Errorf("read the kept deploy credential: %w", err)
	}
	return &c, nil
}

// keep stores cred sealed; the provider never shows its secret half again.
func (p *Project) keep(ctx context.Context, cred DeployCredential) error {
	b, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("encode the deploy credential: %w", err)
	}
	return p.Credentials.SetCredential(ctx, p.ID, onramp.GitDeployCredential, string(b))
}

// RemoveDeployCredential removes the credential from the repository; a
// repository already gone has none.
func (p *Project) RemoveDeployCredential(ctx context.Context, project string) error {
	repo, err := p.repository(ctx, project)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return p.Provider.RemoveDeployCredential(ctx, repo)
}

// EnsureWebhook registers the push webhook to HookURL, signed with the
// repository's own secret, generated once and kept sealed.
func (p *Project) EnsureWebhook(ctx context.Context, project string) error {
	if p.HookURL == "" {
		return nil
	}
	repo, err := p.repository(ctx, project)
	if err != nil {
		return err
	}
	secret, err := p.Credentials.EnsureCredential(ctx, p.ID, onramp.GitWebhookCredential, randomSecret)
	if err != nil {
		return err
	}
	return p.Provider.EnsureWebhook(ctx, repo, p.HookURL, secret)
}

// RemoveWebhook removes the webhooks to HookURL; a repository already gone
// has none.
func (p *Project) RemoveWebhook(ctx context.Context, project string) error {
	if p.HookURL == "" {
		return nil
	}
	repo, err := p.repository(ctx, project)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	return p.Provider.RemoveWebhook(ctx, repo, p.HookURL)
}

// VerifyPush checks a delivery against the repository's webhook secret and
// decodes it; one not signed with it is EUNAUTHORIZED.
func (p *Project) VerifyPush(ctx context.Context, r *http.Request, body []byte) (PushEvent, error) {
	secret, err := p.Credentials.Credential(ctx, p.ID, onramp.GitWebhookCredential)
	if errors.Is(err, sql.ErrNoRows) {
		return PushEvent{}, onramp.Errorf(onramp.EUNAUTHORIZED, "webhook delivery refused: onramp registered no webhook for this repository")
	}
	if err != nil {
		return PushEvent{}, err
	}
	return p.Provider.VerifyWebhook(r, body, secret)
}

func randomSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}
