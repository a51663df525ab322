package onramp

import (
	"context"
)

// ProjectService manages projects on behalf of their owners and members.
// Every method is scoped to the caller: a project they neither own nor are
// a member of is ENOTFOUND; one whose role they lack for the action is
// EFORBIDDEN (see Role).
type ProjectService interface {
	// CreateProject records the project, its environments and steps and
	// enqueues its initialization in one transaction.
	CreateProject(ctx context.Context, owner string, p *Project) error
	FindProject(ctx context.Context, owner, name string) (*Project, error)
	// ListProjects returns a page of projects, newest first, and the cursor
	// of the next page ("" on the last).
	ListProjects(ctx context.Context, owner string, f ProjectFilter) ([]*Project, string, error)
	ProjectLogs(ctx context.Context, owner, name string, afterID int64) ([]LogLine, error)
	ProjectHistory(ctx context.Context, owner, name string) ([]StatusTransition, error)
	// ProjectEvents returns the project's events after afterID, oldest first.
	ProjectEvents(ctx context.Context, owner, name string, afterID int64, limit int) ([]Event, error)
	// LastProjectEvent returns the ID of the project's newest event, or 0.
	LastProjectEvent(ctx context.Context, owner, name string) (int64, error)
	// RequestDelete marks the project deleting and enqueues its deletion.
	RequestDelete(ctx context.Context, owner, name string, opts DeleteOptions) (*Project, error)
	// RequestRetry resumes a failed initialization from the failed step, or
	// repairs a degraded project.
	RequestRetry(ctx context.Context, owner, name string) (*Project, error)
}

// Files is a rendered tree: slash-separated paths to contents.
type Files map[string][]byte

// TemplateService loads, renders and checks templates.
type TemplateService interface {
	Templates() []*Template
	// FindTemplate returns the named template, or ENOTFOUND.
	FindTemplate(name string) (*Template, error)
	// Render renders the project's template with its parameters.
	Render(p *Project) (Files, error)
	// Preflight checks that every environment's overlay path exists in files,
	// builds with kustomize, and produces objects only in its namespace.
	// Failures are EINVALID with a message that names the environment, the
	// path, what exists instead and the kustomize error.
	Preflight(p *Project, files Files) error
}

// GitProvider hosts project repositories: the built-in Git server, or a
// user's connection to Gitea, GitHub or GitLab. The jobs see only this.
type GitProvider interface {
	// CreateRepository makes sure the project's repository exists and
	// returns where Flux clones it from. It is idempotent.
	CreateRepository(ctx context.Context, project string) (Repository, error)
	// Commit makes files the whole tree of the branch head, creating a commit
	// only when the tree differs from the head's, and returns the head's
	// revision as Flux writes it: "main@sha1:<sha>".
	Commit(ctx context.Context, project string, files Files, message string) (string, error)
	// Head returns the branch head's revision, "main@sha1:<sha>".
	Head(ctx context.Context, project string) (string, error)
	// CommitMessage returns the message of the commit at revision
	// ("main@sha1:<sha>" as Flux writes it, or a bare SHA), or ENOTFOUND
	// when the repository has no such commit. Trailing newlines are cut.
	CommitMessage(ctx context.Context, project, revision string) (string, error)
	// DeleteRepository removes the repository; a missing one is not an error.
	DeleteRepository(ctx context.Context, project string) error
	// DeployCredential makes sure the repository has a read-only
	// credential for Flux and returns it: the same one on every call while
	// the provider still holds it. Its secret half is kept sealed.
	DeployCredential(ctx context.Context, project string) (GitCredential, error)
	// RemoveDeployCredential removes what DeployCredential installed on
	// the provider; a missing one is not an error.
	RemoveDeployCredential(ctx context.Context, project string) error
	// EnsureWebhook registers the repository's push webhook to onramp,
	// signed with a secret of the repository's own, when onramp knows its
	// public URL; otherwise, and for the built-in server (which sees every
	// push itself), it does nothing.
	EnsureWebhook(ctx context.Context, project string) error
	// RemoveWebhook removes what EnsureWebhook registered.
	RemoveWebhook(ctx context.Context, project string) error
}

// GitCredential is how Flux clones a project's repository: the URL and the
// data of its Secret. String and GoString leave the data out.
type GitCredential struct {
	// URL is what the GitRepository clones: http(s):// or ssh://.
	URL string
	// Data is the Secret's: username and password (HTTPS), or identity,
	// identity.pub and known_hosts (SSH). Secret.
	Data map[string][]byte
}

// String describes c without its secret data.
func (c GitCredential) String() string { return "git credential for " + c.URL }

// GoString is String, so that %#v does not show the data either.
func (c GitCredential) GoString() string { return c.String() }

// DeleteOptions change what deleting a project removes.
type DeleteOptions struct {
	// KeepRepository keeps a repository on a Git provider, removing only
	// Flux's deploy credential from it.
	KeepRepository bool `json:"keep_repository,omitempty"`
}

// The read-only identity Flux clones a project's repository with. The
// password is generated per project and stored sealed.
const (
	GitReadUser       = "flux"
	GitReadCredential = "git-read"
	// GitDeployCredential is the name under which a project on a git
	// connection keeps its deploy key or token, private half included,
	// sealed.
	GitDeployCredential = "git-deploy"
	// GitWebhookCredential is the secret a provider signs a project's push
	// deliveries with, kept sealed.
	GitWebhookCredential = "git-webhook"
)

// GitAuthorizer decides who may read or write a project's repository over
// the built-in Git server. It returns EUNAUTHORIZED or ENOTFOUND.
type GitAuthorizer interface {
	AuthorizeGit(ctx context.Context, project, username, password string, write bool) error
}

// TeamService manages a project's members and moves its environments.
// The caller's role in the project decides what they may do: a
// non-member gets ENOTFOUND, a member whose role is too low EFORBIDDEN.
type TeamService interface {
	Members(ctx context.Context, user, project string) ([]Member, error)
	// SetMember adds a member or changes a member's role (admin).
	SetMember(ctx context.Context, user, project string, c MemberChange) (*Member, error)
	// RemoveMember takes a member's access away (admin).
	RemoveMember(ctx context.Context, user, project, member string) error
	// RequestPromotion records a promotion or rollback (deployer; forced,
	// admin): it waits for approvals or is enqueued.
	RequestPromotion(ctx context.Context, user, project string, req PromotionRequest) (*Promotion, error)
	// Approve approves another member's waiting promotion (deployer).
	Approve(ctx context.Context, user, project string, id int64) (*Promotion, error)
	// Promotions is the audit trail, newest first; env keeps one
	// environment's.
	Promotions(ctx context.Context, user, project, env string) ([]*Promotion, error)
	FindPromotion(ctx context.Context, user, project string, id int64) (*Promotion, error)
}
