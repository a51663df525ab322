package gitserver

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// shallowUpdate is the answer to a depth-limited fetch: the shallow
// boundary changes to announce and the objects to send.
type shallowUpdate struct {
	update  packp.ShallowUpdate
	objects []plumbing.Hash
}

// planShallow walks depth commits down from wants (a want is depth 1) and
// sends every commit it reaches with its whole tree. Commits at the limit
// that have parents become the client's shallow boundary; the client's old
// boundary commits whose parents are now sent are unshallowed. It ignores
// the client's haves: a shallow client may lack their history.
func planShallow(sto storer.EncodedObjectStorer, wants, clientShallows []plumbing.Hash, depth int) (*shallowUpdate, error) {
	commits, tags, err := walkDepth(sto, wants, depth)
	if err != nil {
		return nil, err
	}
	clientShallow := map[plumbing.Hash]bool{}
	for _, h := range clientShallows {
		clientShallow[h] = true
	}
	su := &shallowUpdate{objects: tags}
	seen := map[plumbing.Hash]bool{}
	for _, c := range commits {
		atLimit := c.depth == depth && c.NumParents() > 0
		switch {
		case atLimit && !clientShallow[c.Hash]:
			su.update.Shallows = append(su.update.Shallows, c.Hash)
		case !atLimit && clientShallow[c.Hash]:
			su.update.Unshallows = append(su.update.Unshallows, c.Hash)
		}
		su.objects = append(su.objects, c.Hash)
		if err := treeObjects(sto, c.TreeHash, seen, &su.objects); err != nil {
			return nil, err
		}
	}
	return su, nil
}

// depthCommit is a commit and how deep from the wants it was first reached.
type depthCommit struct {
	*object.Commit
	depth int
}

// walkDepth returns the commits within depth of wants, breadth first so
// that each has its smallest depth, and the annotated tags it peeled.
func walkDepth(sto storer.EncodedObjectStorer, wants []plumbing.Hash, depth int) ([]depthCommit, []plumbing.Hash, error) {
	var queue []depthCommit
	var tags []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	for _, h := range wants {
		c, peeled, err := peelToCommit(sto, h)
		if err != nil {
			return nil, nil, err
		}
		tags = append(tags, peeled...)
		if !seen[c.Hash] {
			seen[c.Hash] = true
			queue = append(queue, depthCommit{c, 1})
		}
	}
	for i := 0; i < len(queue); i++ {
		c := queue[i]
		if c.depth >= depth {
			continue
		}
		for _, ph := range c.ParentHashes {
			if seen[ph] {
				continue
			}
			p, err := object.GetCommit(sto, ph)
			if err != nil {
				return nil, nil, fmt.Errorf("read commit %s: %w", ph, err)
			}
			seen[ph] = true
			queue = append(queue, depthCommit{p, c.depth + 1})
		}
	}
	return queue, tags, nil
}

// peelToCommit follows annotated tags from h to a commit and returns the
// tags it went through.
func peelToCommit(sto storer.EncodedObjectStorer, h plumbing.Hash) (*object.Commit, []plumbing.Hash, error) {
	var tags []plumbing.Hash
	for {
		obj, err := sto.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			c, err := object.DecodeCommit(sto, obj)
			return c, tags, err
		case plumbing.TagObject:
			t, err := object.DecodeTag(sto, obj)
			if err != nil {
				return nil, nil, err
			}
			tags = append(tags, h)
			h = t.Target
		default:
			return nil, nil, badRequest("shallow fetch of %s %s: only commits and tags can be wanted", obj.Type(), h)
		}
	}
}

// treeObjects appends tree h and everything in it that is not yet seen.
// Submodule entries name commits of other repositories and are skipped.
func treeObjects(sto storer.EncodedObjectStorer, h plumbing.Hash, seen map[plumbing.Hash]bool, out *[]plumbing.Hash) error {
	if seen[h] {
		return nil
	}
	seen[h] = true
	*out = append(*out, h)
	t, err := object.GetTree(sto, h)
	if err != nil {
		return fmt.Errorf("read tree %s: %w", h, err)
	}
	for _, e := range t.Entries {
		switch {
		case e.Mode == filemode.Dir:
			if err := treeObjects(sto, e.Hash, seen, out); err != nil {
				return err
			}
		case e.Mode == filemode.Submodule || seen[e.Hash]:
		default:
			seen[e.Hash] = true
			*out = append(*out, e.Hash)
		}
	}
	return nil
}
