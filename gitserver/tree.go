package gitserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/onramp/onramp"
)

// dirNode is one directory of the tree being committed.
type dirNode struct {
	files map[string][]byte
	dirs  map[string]*dirNode
}

func newDirNode() *dirNode {
	return &dirNode{files: map[string][]byte{}, dirs: map[string]*dirNode{}}
}

// newDir arranges files into directories. A path that git would refuse or
// that is both a file and a directory is EINVALID.
func newDir(files onramp.Files) (*dirNode, error) {
	root := newDirNode()
	for path, content := range files {
		if err := checkPath(path); err != nil {
			return nil, err
		}
		if err := root.add(strings.Split(path, "/"), content); err != nil {
			return nil, onramp.Errorf(onramp.EINVALID, "file %q: %s", path, err)
		}
	}
	return root, nil
}

func (d *dirNode) add(parts []string, content []byte) error {
	name := parts[0]
	if len(parts) == 1 {
		if _, ok := d.dirs[name]; ok {
			return fmt.Errorf("%q is also a directory", name)
		}
		d.files[name] = content
		return nil
	}
	if _, ok := d.files[name]; ok {
		return fmt.Errorf("%q is also a file", name)
	}
	sub, ok := d.dirs[name]
	if !ok {
		sub = newDirNode()
		d.dirs[name] = sub
	}
	return sub.add(parts[1:], content)
}

// checkPath returns EINVALID unless path is a relative slash path whose
// components git accepts in a tree.
func checkPath(path string) error {
	if path == "" || strings.ContainsRune(path, 0) {
		return onramp.Errorf(onramp.EINVALID, "file path %q is empty or contains NUL", path)
	}
	for _, part := range strings.Split(path, "/") {
		switch {
		case part == "", part == ".", part == "..":
			return onramp.Errorf(onramp.EINVALID, "file path %q must be relative, without empty, \".\" or \"..\" parts", path)
		case strings.EqualFold(part, ".git"):
			return onramp.Errorf(onramp.EINVALID, "file path %q must not contain .git", path)
		}
	}
	return nil
}

// writeTree stores d's blobs and trees, deepest first, and returns the hash
// of d's tree.
func writeTree(sto storer.EncodedObjectStorer, d *dirNode) (plumbing.Hash, error) {
	entries := make([]object.TreeEntry, 0, len(d.files)+len(d.dirs))
	for name, content := range d.files {
		h, err := writeBlob(sto, content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, sub := range d.dirs {
		h, err := writeTree(sto, sub)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	// Git orders entries as if directory names ended in "/"; any other
	// order makes a tree that git fsck rejects and hashes differently.
	slices.SortFunc(entries, func(a, b object.TreeEntry) int {
		return strings.Compare(entrySortKey(a), entrySortKey(b))
	})
	obj := sto.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	return storeObject(sto, obj)
}

func entrySortKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// writeBlob stores content as a blob.
func writeBlob(sto storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	obj := sto.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		w.Close()
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write blob: %w", err)
	}
	return storeObject(sto, obj)
}
