package gitserver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// maxPacks is how many packs a repository may hold before a push repacks
// it: every push stores one, and every read of an object starts by loading
// the index of each.
const maxPacks = 8

// repack, called under the repository's lock once a push has moved a
// reference, writes every object reachable from a reference as one pack
// when the repository holds more than maxPacks, then removes each older
// pack whose objects that pack holds. A pack that holds anything else (a
// push in flight stores its pack before it takes the lock) is kept.
// Clones and fetches (readLock) wait while it runs; if they keep the
// repository busy for readersWait, it does nothing, and a later push
// repacks.
func repack(root, project string, sto *filesystem.Storage) error {
	old, err := sto.ObjectPacks()
	if err != nil || len(old) <= maxPacks {
		return err
	}
	release, err := lockReaders(root, project, readersWait)
	if err != nil || release == nil {
		return err
	}
	defer release()
	tips, _, err := refTips(sto)
	if err != nil {
		return err
	}
	objects, err := revlist.Objects(sto, tips, nil)
	if err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	w, err := sto.PackfileWriter()
	if err != nil {
		return err
	}
	packed, err := packfile.NewEncoder(w, sto, false).Encode(objects, 10)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write pack of %d objects: %w", len(objects), err)
	}
	in := make(map[plumbing.Hash]bool, len(objects))
	for _, h := range objects {
		in[h] = true
	}
	dir := filepath.Join(repoDir(root, project), "objects", "pack")
	for _, h := range old {
		if h == packed {
			continue
		}
		all, err := packHolds(filepath.Join(dir, "pack-"+h.String()+".idx"), in)
		if err != nil {
			return err
		}
		if all {
			if err := sto.DeleteOldObjectPackAndIndex(h, time.Time{}); err != nil {
				return err
			}
		}
	}
	sto.Reindex()
	return nil
}

// readersWait is how long a repack waits for a moment without clones or
// fetches.
const readersWait = 500 * time.Millisecond

// packHolds reports whether every object in the pack of the index at path
// is in set.
func packHolds(path string, set map[plumbing.Hash]bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(f).Decode(idx); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	entries, err := idx.Entries()
	if err != nil {
		return false, err
	}
	defer entries.Close()
	for {
		e, err := entries.Next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if !set[e.Hash] {
			return false, nil
		}
	}
}
