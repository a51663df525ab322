package gitprovider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/onramp/onramp"
)

// pushAttempts bounds how often push starts again after a commit pushed
// meanwhile made the remote refuse a non-fast-forward.
const pushAttempts = 3

// gitClient pushes and reads branches over HTTPS with a token, in memory:
// the same for every provider, which differ only in the user name their
// HTTPS basic auth wants beside the token.
type gitClient struct {
	user  string
	token string
	errs  classifier
}

// auth is the basic auth the token pushes with.
func (g gitClient) auth() transport.AuthMethod {
	return &githttp.BasicAuth{Username: g.user, Password: g.token}
}

// branch is the repository's default branch, "main" when it has none yet.
func branch(repo Repo) string {
	if repo.DefaultBranch == "" {
		return "main"
	}
	return repo.DefaultBranch
}

// revision is how Flux writes a commit of a branch.
func revision(branch string, h plumbing.Hash) string {
	return branch + "@sha1:" + h.String()
}

// head returns the branch's commit on the remote, or plumbing.ZeroHash when
// the branch does not exist.
func (g gitClient) head(ctx context.Context, repo Repo) (plumbing.Hash, error) {
	op := "read branch " + branch(repo) + " of " + repo.FullName()
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{repo.CloneURL}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: g.auth()})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, g.gitFail(op, err)
	}
	want := plumbing.NewBranchReferenceName(branch(repo))
	for _, r := range refs {
		if r.Name() == want {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// Head returns the default branch's head revision.
func (g gitClient) Head(ctx context.Context, repo Repo) (string, error) {
	h, err := g.head(ctx, repo)
	if err != nil {
		return "", err
	}
	if h.IsZero() {
		return "", newError("read head of "+repo.FullName(), 404, fmt.Sprintf("branch %s of %s has no commit yet", branch(repo), repo.FullName()), nil)
	}
	return revision(branch(repo), h), nil
}

// Push makes files the whole tree of the default branch. It fetches the
// branch's head, makes a commit on top of it unless its tree is already
// files, and pushes without force: a commit pushed meanwhile makes the push
// fail, and the next attempt builds on it.
func (g gitClient) Push(ctx context.Context, repo Repo, files onramp.Files, message string) (string, error) {
	var err error
	for range pushAttempts {
		var rev string
		rev, err = g.pushOnce(ctx, repo, files, message)
		if !errors.Is(err, git.ErrNonFastForwardUpdate) && !isRejected(err) {
			return rev, err
		}
	}
	return "", g.gitFail("push to "+repo.FullName(), err)
}

// pushOnce is one attempt of Push.
func (g gitClient) pushOnce(ctx context.Context, repo Repo, files onramp.Files, message string) (string, error) {
	op := "push to " + repo.FullName()
	br := branch(repo)
	ref := plumbing.NewBranchReferenceName(br)
	sto := memory.NewStorage()
	remote := git.NewRemote(sto, &config.RemoteConfig{Name: "origin", URLs: []string{repo.CloneURL}})
	parent, err := g.fetch(ctx, remote, ref)
	if err != nil {
		return "", g.gitFail(op, err)
	}
	tree, err := writeTree(sto, files)
	if err != nil {
		return "", err
	}
	var parents []plumbing.Hash
	if !parent.IsZero() {
		c, err := object.GetCommit(sto, parent)
		if err != nil {
			return "", fmt.Errorf("%s: read head %s: %w", op, parent, err)
		}
		if c.TreeHash == tree {
			return revision(br, parent), nil
		}
		parents = []plumbing.Hash{parent}
	}
	h, err := writeCommit(sto, tree, parents, message)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := sto.SetReference(plumbing.NewHashReference(ref, h)); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	spec := config.RefSpec(ref.String() + ":" + ref.String())
	err = remote.PushContext(ctx, &git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: g.auth()})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if errors.Is(err, git.ErrNonFastForwardUpdate) || isRejected(err) {
			return "", err
		}
		return "", g.gitFail(op, err)
	}
	return revision(br, h), nil
}

// fetch brings the branch's head commit and tree into remote's storage and
// returns it, or plumbing.ZeroHash for a branch that does not exist yet.
func (g gitClient) fetch(ctx context.Context, remote *git.Remote, ref plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: g.auth()})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	var head plumbing.Hash
	for _, r := range refs {
		if r.Name() == ref {
			head = r.Hash()
		}
	}
	if head.IsZero() {
		return head, nil
	}
	spec := config.RefSpec("+" + ref.String() + ":" + ref.String())
	err = remote.FetchContext(ctx, &git.FetchOptions{RefSpecs: []config.RefSpec{spec}, Depth: 1, Auth: g.auth(), Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, err
	}
	return head, nil
}

// isRejected reports whether a push failed because the remote branch moved
// (a reference update the remote refused).
func isRejected(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "non-fast-forward") || strings.Contains(err.Error(), "fetch first"))
}

// gitFail classifies a failed Git exchange: an authentication failure is
// permanent, anything else (no answer, a 5xx) may pass.
func (g gitClient) gitFail(op string, err error) error {
	text := g.errs.redact(err.Error())
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return &Error{Op: op, Status: 401, Code: onramp.EUNAUTHORIZED, detail: text, cause: err,
			Message: fmt.Sprintf("%s refused the token for Git over HTTPS: give it %s, or create a new one and connect again", g.errs.name, g.errs.scopes)}
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return &Error{Op: op, Status: 404, Code: onramp.ENOTFOUND, detail: text, cause: err,
			Message: fmt.Sprintf("%s has no such repository, or the token may not read it", g.errs.name)}
	default:
		return &Error{Op: op, Code: onramp.EUNAVAILABLE, Retry: true, detail: text, cause: err,
			Message: fmt.Sprintf("Git over HTTPS with %s failed: onramp tries again", g.errs.name)}
	}
}

// writeCommit stores a commit by onramp of tree with parents.
func writeCommit(sto *memory.Storage, tree plumbing.Hash, parents []plumbing.Hash, message string) (plumbing.Hash, error) {
	if message == "" {
		message = "Update rendered files"
	}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	sig := object.Signature{Name: "onramp", Email: "onramp@localhost", When: time.Now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: parents}
	obj := sto.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	return sto.SetEncodedObject(obj)
}
