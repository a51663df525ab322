package gitprovider

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/onramp/onramp"
)

// dir is one directory of the tree being written.
type dir struct {
	files map[string][]byte
	dirs  map[string]*dir
}

// writeTree stores files as blobs and trees and returns the root tree's
// hash. A path git would refuse, or one that is both a file and a
// directory, is EINVALID.
func writeTree(sto *memory.Storage, files onramp.Files) (plumbing.Hash, error) {
	root := &dir{files: map[string][]byte{}, dirs: map[string]*dir{}}
	for path, content := range files {
		if err := checkPath(path); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := root.add(strings.Split(path, "/"), content); err != nil {
			return plumbing.ZeroHash, onramp.Errorf(onramp.EINVALID, "file %q: %s", path, err)
		}
	}
	return root.write(sto)
}

// add puts content at the path made of parts.
func (d *dir) add(parts []string, content []byte) error {
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
		sub = &dir{files: map[string][]byte{}, dirs: map[string]*dir{}}
		d.dirs[name] = sub
	}
	return sub.add(parts[1:], content)
}

// write stores d's blobs and subtrees, then d's tree, sorted as git sorts.
func (d *dir) write(sto *memory.Storage) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	for name, content := range d.files {
		obj := sto.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, err := obj.Writer()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := w.Write(content); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := w.Close(); err != nil {
			return plumbing.ZeroHash, err
		}
		h, err := sto.SetEncodedObject(obj)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, sub := range d.dirs {
		h, err := sub.write(sto)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	// git orders a directory as if its name ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	obj := sto.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	return sto.SetEncodedObject(obj)
}

// checkPath returns EINVALID unless path is a relative slash path whose
// parts git accepts in a tree.
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
