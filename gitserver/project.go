package gitserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"github.com/onramp/onramp"
)

// Credentials keeps a project's secrets sealed (store.DB).
type Credentials interface {
	// EnsureCredential returns the project's named secret, creating it
	// with generate on first use.
	EnsureCredential(ctx context.Context, projectID int64, name string, generate func() string) (string, error)
}

// Project is the built-in provider as one project's jobs see it: Flux
// clones over HTTP with basic auth, as onramp.GitReadUser with a password
// generated once and kept sealed as onramp.GitReadCredential, which the
// Server's authorizer checks.
type Project struct {
	*Provider
	Credentials Credentials
	// ID is the project's.
	ID int64
}

var _ onramp.GitProvider = Project{}

// DeployCredential returns the project's read credential, generating its
// password on first use.
func (p Project) DeployCredential(ctx context.Context, project string) (onramp.GitCredential, error) {
	password, err := p.Credentials.EnsureCredential(ctx, p.ID, onramp.GitReadCredential, randomPassword)
	if err != nil {
		return onramp.GitCredential{}, err
	}
	return onramp.GitCredential{
		URL:  p.repoURL(project),
		Data: map[string][]byte{"username": []byte(onramp.GitReadUser), "password": []byte(password)},
	}, nil
}

// RemoveDeployCredential does nothing: the password is one of the
// project's records, removed with them.
func (p Project) RemoveDeployCredential(context.Context, string) error { return nil }

// EnsureWebhook does nothing: the Server sees every push itself (OnPush).
func (p Project) EnsureWebhook(context.Context, string) error { return nil }

// RemoveWebhook does nothing, as EnsureWebhook.
func (p Project) RemoveWebhook(context.Context, string) error { return nil }

func randomPassword() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Resolver gives a project the built-in provider, as its Project.
type Resolver struct {
	*Provider
	Credentials Credentials
}

// GitFor returns p's view of the built-in provider.
func (r Resolver) GitFor(_ context.Context, p *onramp.Project) (onramp.GitProvider, error) {
	return Project{Provider: r.Provider, Credentials: r.Credentials, ID: p.ID}, nil
}
