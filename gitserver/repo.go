package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/onramp/onramp"
)

// lockDir holds one lock file per project; its leading dot keeps it apart
// from repositories, whose names are DNS labels.
const lockDir = ".locks"

// validName reports whether name is a DNS-1123 label, the only names a
// repository can have; it also keeps names safe as path components.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// checkName returns EINVALID unless project can name a repository.
func checkName(project string) error {
	if !validName(project) {
		return onramp.Errorf(onramp.EINVALID, "repository name %q must be a DNS-1123 label", project)
	}
	return nil
}

// durable makes what the repositories under a root have written durable
// before onramp says it is done: a repository made, a commit recorded, a
// push reported stored, a repository deleted. Tests replace it to see when
// it is called.
var durable = syncFS

// repoDir returns where project's bare repository lives under root.
func repoDir(root, project string) string {
	return filepath.Join(root, project+".git")
}

// openRepo opens project's bare repository, or returns ENOTFOUND when it
// does not exist. The caller closes the storage.
func openRepo(root, project string) (*filesystem.Storage, error) {
	dir := repoDir(root, project)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		return nil, onramp.Errorf(onramp.ENOTFOUND, "repository %s does not exist", project)
	} else if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", project, err)
	}
	return filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault()), nil
}

// lockRepo takes project's exclusive lock and returns the function that
// releases it. The lock is a flock on <Root>/.locks/<project>.lock. A
// holder that leaves no repository behind (a deletion, or a read of a
// repository that does not exist) removes the file before releasing it,
// so that nothing of a deleted project stays on disk: a waiter that then
// gets the lock of the removed file tries again on the file the path names
// now, so two holders never lock different files. Holders keep it for
// milliseconds, so waiting for it does not watch ctx.
func lockRepo(ctx context.Context, root, project string) (unlock func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", project, err)
	}
	dir := filepath.Join(root, lockDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", project, err)
	}
	path := filepath.Join(dir, project+".lock")
	for {
		release, err := flockFile(path, syscall.LOCK_EX)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", project, err)
		}
		if !release.current() {
			release.close()
			continue
		}
		return func() {
			if _, err := os.Stat(repoDir(root, project)); errors.Is(err, fs.ErrNotExist) {
				os.Remove(path)
			}
			release.close()
		}, nil
	}
}

// readLock takes project's readers' lock, shared, and returns its release:
// while a clone or fetch holds it, no repack runs. The lock file is in the
// repository, so that it goes with it.
func readLock(root, project string) (release func(), err error) {
	l, err := flockFile(readersPath(root, project), syscall.LOCK_SH)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, onramp.Errorf(onramp.ENOTFOUND, "repository %s does not exist", project)
	} else if err != nil {
		return nil, fmt.Errorf("lock %s for reading: %w", project, err)
	}
	return l.close, nil
}

// lockReaders takes project's readers' lock exclusively as soon as no
// reader holds it, trying for up to wait (a waiting flock would let new
// readers in ahead of it). It returns a nil release if readers kept it.
func lockReaders(root, project string, wait time.Duration) (release func(), err error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := flockFile(readersPath(root, project), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return l.close, nil
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return nil, fmt.Errorf("lock %s's readers out: %w", project, err)
		case time.Now().After(deadline):
			return nil, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readersPath(root, project string) string {
	return filepath.Join(repoDir(root, project), "onramp-readers.lock")
}

// fileLock is a flock held on an open file; closing the file releases it.
type fileLock struct {
	f    *os.File
	path string
}

// flockFile opens (creating) the file at path and takes a flock of kind how.
func flockFile(path string, how int) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return &fileLock{f: f, path: path}, nil
}

// current reports whether the locked file is still the one at its path.
func (l *fileLock) current() bool {
	held, err := l.f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(l.path)
	return err == nil && os.SameFile(held, now)
}

func (l *fileLock) close() { l.f.Close() }
