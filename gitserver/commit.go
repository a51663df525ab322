package gitserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/onramp/onramp"
)

// Commit makes files the whole tree of the branch head and returns the
// head's revision, "main@sha1:<sha>". When the head already has that tree it
// creates nothing, so a retried or repeated Commit converges to one commit.
// Calls on one repository are serialized by its lock.
func (p *Provider) Commit(ctx context.Context, project string, files onramp.Files, message string) (string, error) {
	if err := checkName(project); err != nil {
		return "", err
	}
	dir, err := newDir(files)
	if err != nil {
		return "", err
	}
	unlock, err := lockRepo(ctx, p.Root, project)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", project, err)
	}
	defer unlock()
	sto, err := openRepo(p.Root, project)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", project, err)
	}
	defer sto.Close()
	h, err := p.commitTree(sto, dir, message)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", project, err)
	}
	return p.revision(h), nil
}

// commitTree writes dir and, unless the head already has that tree, a
// commit on top of the head, then moves the branch to it.
func (p *Provider) commitTree(sto storer.Storer, dir *dirNode, message string) (plumbing.Hash, error) {
	tree, err := writeTree(sto, dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	head, err := branchCommit(sto, p.branchRef())
	var old *plumbing.Reference
	var parents []plumbing.Hash
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
	case err != nil:
		return plumbing.ZeroHash, err
	case head.TreeHash == tree:
		return head.Hash, nil
	default:
		old = plumbing.NewHashReference(p.branchRef(), head.Hash)
		parents = []plumbing.Hash{head.Hash}
	}
	h, err := writeCommit(sto, tree, parents, message)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	// The lock makes the check redundant for onramp's writers; it still
	// guards against anything else that writes the repository.
	if err := sto.CheckAndSetReference(plumbing.NewHashReference(p.branchRef(), h), old); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("update %s: %w", p.branchRef(), err)
	}
	return h, nil
}

// writeCommit stores a commit by onramp of tree with parents.
func writeCommit(sto storer.EncodedObjectStorer, tree plumbing.Hash, parents []plumbing.Hash, message string) (plumbing.Hash, error) {
	if message == "" {
		message = "Update rendered files"
	}
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	sig := object.Signature{Name: "onramp", Email: "onramp@localhost", When: time.Now()}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message,
		TreeHash:     tree,
		ParentHashes: parents,
	}
	obj := sto.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	return storeObject(sto, obj)
}

// branchCommit returns the commit branch points at, or an error wrapping
// plumbing.ErrReferenceNotFound when the branch does not exist yet.
func branchCommit(sto storer.Storer, branch plumbing.ReferenceName) (*object.Commit, error) {
	ref, err := sto.Reference(branch)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", branch, err)
	}
	c, err := object.GetCommit(sto, ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", ref.Hash(), err)
	}
	return c, nil
}

// storeObject stores obj unless the repository already has it: objects are
// named by their content, so a retry writes nothing twice.
func storeObject(sto storer.EncodedObjectStorer, obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if sto.HasEncodedObject(h) == nil {
		return h, nil
	}
	if _, err := sto.SetEncodedObject(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store %s %s: %w", obj.Type(), h, err)
	}
	return h, nil
}
