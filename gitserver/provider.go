package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/onramp/onramp"
)

// Provider hosts project repositories as bare repositories under Root,
// served by a Server with the same Root at BaseURL. ForProject gives a
// project's view of it, an onramp.GitProvider.
type Provider struct {
	// Root is the directory that holds <project>.git repositories.
	Root string
	// BaseURL is where the Server is reachable, without a trailing slash,
	// e.g. "http://127.0.0.1:8080/git".
	BaseURL string
	// Branch is the branch onramp commits to; "" means "main".
	Branch string
}

func (p *Provider) branch() string {
	if p.Branch == "" {
		return "main"
	}
	return p.Branch
}

func (p *Provider) branchRef() plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(p.branch())
}

// revision formats a commit the way Flux reports it in its status.
func (p *Provider) revision(h plumbing.Hash) string {
	return p.branch() + "@sha1:" + h.String()
}

// CreateRepository makes sure project's bare repository exists, with HEAD
// on the branch, and returns where it is cloned from. It is idempotent.
func (p *Provider) CreateRepository(ctx context.Context, project string) (onramp.Repository, error) {
	if err := checkName(project); err != nil {
		return onramp.Repository{}, err
	}
	unlock, err := lockRepo(ctx, p.Root, project)
	if err != nil {
		return onramp.Repository{}, fmt.Errorf("create repository %s: %w", project, err)
	}
	defer unlock()
	removeStale(p.Root, project)
	if err := p.initRepo(project); err != nil {
		return onramp.Repository{}, fmt.Errorf("create repository %s: %w", project, err)
	}
	if err := durable(p.Root); err != nil {
		return onramp.Repository{}, fmt.Errorf("create repository %s: %w", project, err)
	}
	return onramp.Repository{URL: p.repoURL(project), Branch: p.branch()}, nil
}

// repoURL is where the Server serves project's repository.
func (p *Provider) repoURL(project string) string {
	return strings.TrimSuffix(p.BaseURL, "/") + "/" + project + ".git"
}

// initRepo initializes the repository in a temporary directory and renames
// it into place, so that a crash never leaves a half-made repository where
// the Server would find it.
func (p *Provider) initRepo(project string) error {
	dir := repoDir(p.Root, project)
	if _, err := os.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.MkdirTemp(p.Root, tempPattern("init", project))
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := initBare(tmp, p.branchRef()); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// initBare writes an empty bare repository into dir whose HEAD points at
// branch: what git needs to recognize one (HEAD, objects/, refs/) and a
// config marking it bare. The other directories are made when first
// written to: on some file systems each one made costs as much as a small
// file.
func initBare(dir string, branch plumbing.ReferenceName) error {
	for _, d := range []string{"objects", "refs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	// The version lets the git CLI trust core.bare when it is pointed at the
	// repository with --git-dir, as an operator might.
	files := map[string]string{
		"HEAD":   "ref: " + branch.String() + "\n",
		"config": "[core]\n\trepositoryformatversion = 0\n\tbare = true\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// tempPattern names the temporary directories of an operation on project.
// The "." after the name keeps project "a" from matching those of "a-b".
func tempPattern(op, project string) string {
	return "." + op + "-" + project + ".*"
}

// removeStale removes the temporary directories a crash left behind for
// project. The caller holds the project's lock, so none is in use.
func removeStale(root, project string) {
	for _, op := range []string{"init", "delete"} {
		dirs, _ := filepath.Glob(filepath.Join(root, tempPattern(op, project)))
		for _, dir := range dirs {
			os.RemoveAll(dir)
		}
	}
}

// DeleteRepository removes project's repository; a missing one is not an
// error. The directory is renamed away before it is removed, so the Server
// never serves a half-deleted repository.
func (p *Provider) DeleteRepository(ctx context.Context, project string) error {
	if err := checkName(project); err != nil {
		return err
	}
	unlock, err := lockRepo(ctx, p.Root, project)
	if err != nil {
		return fmt.Errorf("delete repository %s: %w", project, err)
	}
	defer unlock()
	removeStale(p.Root, project)
	tmp, err := os.MkdirTemp(p.Root, tempPattern("delete", project))
	if err != nil {
		return fmt.Errorf("delete repository %s: %w", project, err)
	}
	err = os.Rename(repoDir(p.Root, project), filepath.Join(tmp, "repo"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tmp)
		return fmt.Errorf("delete repository %s: %w", project, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("delete repository %s: %w", project, err)
	}
	return durable(p.Root)
}

// Head returns the revision of the branch head, "main@sha1:<sha>", or
// ENOTFOUND when the repository or its branch does not exist.
func (p *Provider) Head(ctx context.Context, project string) (string, error) {
	c, err := p.headCommit(ctx, project)
	if err != nil {
		return "", fmt.Errorf("head of %s: %w", project, err)
	}
	return p.revision(c.Hash), nil
}

// ListTree returns the path of every file in the branch head's tree,
// sorted, or ENOTFOUND when the repository or its branch does not exist.
// Failure hints use it to say which paths the pushed commit holds.
func (p *Provider) ListTree(ctx context.Context, project string) ([]string, error) {
	c, err := p.headCommit(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("list tree of %s: %w", project, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("list tree of %s: %w", project, err)
	}
	var paths []string
	err = tree.Files().ForEach(func(f *object.File) error {
		paths = append(paths, f.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tree of %s: %w", project, err)
	}
	sort.Strings(paths)
	return paths, nil
}

// CommitMessage returns the message of the commit at revision, without
// its trailing newlines, or ENOTFOUND when the repository does not exist
// or has no such commit.
func (p *Provider) CommitMessage(ctx context.Context, project, revision string) (string, error) {
	sha, err := onramp.RevisionSHA(revision)
	if err != nil {
		return "", err
	}
	c, err := p.readCommit(ctx, project, func(sto *filesystem.Storage) (*object.Commit, error) {
		c, err := object.GetCommit(sto, plumbing.NewHash(sha))
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, onramp.Errorf(onramp.ENOTFOUND, "repository %s has no commit %s", project, sha)
		}
		return c, err
	})
	if err != nil {
		return "", fmt.Errorf("read commit %s of %s: %w", sha, project, err)
	}
	return strings.TrimRight(c.Message, "\n"), nil
}

// headCommit reads the branch head.
func (p *Provider) headCommit(ctx context.Context, project string) (*object.Commit, error) {
	return p.readCommit(ctx, project, func(sto *filesystem.Storage) (*object.Commit, error) {
		c, err := branchCommit(sto, p.branchRef())
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return nil, onramp.Errorf(onramp.ENOTFOUND, "repository %s has no commit on %s", project, p.branch())
		}
		return c, err
	})
}

// readCommit opens project's repository and reads a commit with find under
// the repository lock, so that it never reads a reference while a writer
// rewrites it, nor a pack while a repack removes it.
func (p *Provider) readCommit(ctx context.Context, project string, find func(*filesystem.Storage) (*object.Commit, error)) (*object.Commit, error) {
	if err := checkName(project); err != nil {
		return nil, err
	}
	unlock, err := lockRepo(ctx, p.Root, project)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sto, err := openRepo(p.Root, project)
	if err != nil {
		return nil, err
	}
	defer sto.Close()
	return find(sto)
}
