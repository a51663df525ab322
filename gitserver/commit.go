package gitserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"

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
	// Also when nothing was written: an earlier attempt may have written
	// the commit and died before it was durable.
	if err := durable(p.Root); err != nil {
		return "", fmt.Errorf("commit %s: %w", project, err)
	}
	return p.revision(h), nil
}

// commitTree writes dir and, unless the head already has that tree, a
// commit on top of the head, then moves the branch to it. The objects are
// made in memory first: a branch's first commit (a new project's push)
// writes them as one pack, two files instead of a file and a rename for
// each object; a later commit writes the few new ones as loose objects, so
// that a repository gains at most one pack from onramp.
func (p *Provider) commitTree(sto *filesystem.Storage, dir *dirNode, message string) (plumbing.Hash, error) {
	mem := memory.NewStorage()
	tree, err := writeTree(mem, dir)
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
	h, err := writeCommit(mem, tree, parents, message)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if old == nil {
		err = writePack(sto, mem)
	} else {
		err = writeLoose(sto, mem)
	}
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

// writePack stores every object of mem in sto as one pack.
func writePack(sto *filesystem.Storage, mem *memory.Storage) error {
	hashes := make([]plumbing.Hash, 0, len(mem.Objects))
	for h := range mem.Objects {
		hashes = append(hashes, h)
	}
	w, err := sto.PackfileWriter()
	if err != nil {
		return fmt.Errorf("write pack: %w", err)
	}
	if _, err := packfile.NewEncoder(w, mem, false).Encode(hashes, 0); err != nil {
		w.Close()
		return fmt.Errorf("write pack of %d objects: %w", len(hashes), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write pack of %d objects: %w", len(hashes), err)
	}
	return nil
}

// writeLoose stores the objects of mem that sto does not have yet.
func writeLoose(sto *filesystem.Storage, mem *memory.Storage) error {
	for _, obj := range mem.Objects {
		if _, err := storeObject(sto, obj); err != nil {
			return err
		}
	}
	return nil
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
