package gitserver_test

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitserver"
)

var revisionPattern = regexp.MustCompile(`^main@sha1:[0-9a-f]{40}$`)

func TestCreateRepository(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := onramp.Repository{URL: e.url + "/git/p.git", Branch: "main"}
	for i := range 2 {
		got, err := e.provider.CreateRepository(ctx, "p")
		if err != nil || got != want {
			t.Fatalf("CreateRepository(p) #%d = %+v, %v; want %+v, nil", i+1, got, err, want)
		}
	}
	if got := e.bareGit(t, "p", "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Errorf("HEAD = %q; want refs/heads/main", got)
	}
	if got := e.bareGit(t, "p", "rev-parse", "--is-bare-repository"); got != "true" {
		t.Errorf("is bare = %q; want true", got)
	}
	if _, err := e.provider.Head(ctx, "p"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("Head(empty p) = %v; want %s", err, onramp.ENOTFOUND)
	}
}

func TestCreateRepositoryRemovesStale(t *testing.T) {
	e := newEnv(t)
	root := e.provider.Root
	// What a crash in the middle of CreateRepository(p) leaves, and what
	// another project's CreateRepository is using right now.
	for _, dir := range []string{".init-p.123", ".init-p-q.456"} {
		if err := os.MkdirAll(filepath.Join(root, dir, "objects"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.provider.CreateRepository(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{{".init-p.123", false}, {".init-p-q.456", true}, {"p.git", true}}
	for _, tt := range tests {
		_, err := os.Stat(filepath.Join(root, tt.name))
		if got := err == nil; got != tt.want {
			t.Errorf("%s exists after CreateRepository(p) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestCreateRepositoryConcurrent(t *testing.T) {
	e := newEnv(t)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := e.provider.CreateRepository(context.Background(), "p")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent CreateRepository(p) = %v; want nil", err)
		}
	}
	e.bareGit(t, "p", "fsck")
}

func TestCommitIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := e.createAndCommit(t, "p", sampleFiles())
	if !revisionPattern.MatchString(first) {
		t.Fatalf("Commit(p) = %q; want main@sha1:<40 hex>", first)
	}
	// A first commit is one pack; later ones add loose objects, not packs.
	if got := countObjects(t, e, "p"); got != "count: 0, packs: 1" {
		t.Errorf("after the first commit: %s; want count: 0, packs: 1 (one pack, no loose objects)", got)
	}
	again, err := e.provider.Commit(ctx, "p", sampleFiles(), "render again")
	if err != nil || again != first {
		t.Errorf("Commit(same files) = %q, %v; want %q", again, err, first)
	}
	if got := e.bareGit(t, "p", "rev-list", "--count", "main"); got != "1" {
		t.Errorf("commits after the same files twice = %s; want 1", got)
	}
	second, err := e.provider.Commit(ctx, "p", changedFiles(), "change")
	if err != nil || second == first {
		t.Fatalf("Commit(changed files) = %q, %v; want a new revision", second, err)
	}
	sha := strings.TrimPrefix(second, "main@sha1:")
	if got := e.bareGit(t, "p", "rev-parse", sha+"^"); "main@sha1:"+got != first {
		t.Errorf("parent of the second commit = %s; want %s", got, first)
	}
	if got := e.bareGit(t, "p", "log", "-1", "--format=%an <%ae>|%s", "main"); got != "onramp <onramp@localhost>|change" {
		t.Errorf("author and subject = %q; want %q", got, "onramp <onramp@localhost>|change")
	}
	if got := countObjects(t, e, "p"); !strings.HasSuffix(got, "packs: 1") || strings.HasPrefix(got, "count: 0,") {
		t.Errorf("after the second commit: %s; want loose objects and still one pack", got)
	}
	e.bareGit(t, "p", "fsck", "--strict")
}

// countObjects is git count-objects' loose objects and packs in project's
// repository, as "count: N, packs: M".
func countObjects(t *testing.T, e *env, project string) string {
	t.Helper()
	var count, packs string
	for line := range strings.SplitSeq(e.bareGit(t, project, "count-objects", "-v"), "\n") {
		if v, ok := strings.CutPrefix(line, "count: "); ok {
			count = v
		}
		if v, ok := strings.CutPrefix(line, "packs: "); ok {
			packs = v
		}
	}
	return "count: " + count + ", packs: " + packs
}

func TestCommitConcurrent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, p := range []string{"same", "distinct"} {
		if _, err := e.provider.CreateRepository(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	const n = 10
	revs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if revs[i], err = e.provider.Commit(ctx, "same", sampleFiles(), "render"); err != nil {
				t.Errorf("Commit(same) = %v", err)
			}
			distinct := sampleFiles()
			distinct["n.txt"] = fmt.Appendf(nil, "%d\n", i)
			if _, err := e.provider.Commit(ctx, "distinct", distinct, "render"); err != nil {
				t.Errorf("Commit(distinct) = %v", err)
			}
		})
	}
	wg.Wait()
	for i, rev := range revs {
		if rev != revs[0] {
			t.Errorf("concurrent Commit #%d = %s; want %s like #0", i, rev, revs[0])
		}
	}
	tests := []struct{ name, want string }{{"same", "1"}, {"distinct", fmt.Sprint(n)}}
	for _, tt := range tests {
		if got := e.bareGit(t, tt.name, "rev-list", "--count", "main"); got != tt.want {
			t.Errorf("commits in %s after %d concurrent Commits = %s; want %s", tt.name, n, got, tt.want)
		}
		e.bareGit(t, tt.name, "fsck", "--strict")
	}
}

func TestListTree(t *testing.T) {
	e := newEnv(t)
	rev := e.createAndCommit(t, "p", sampleFiles())
	ctx := context.Background()
	got, err := e.provider.ListTree(ctx, "p")
	want := slices.Sorted(maps.Keys(sampleFiles()))
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ListTree(p) = %q, %v; want %q", got, err, want)
	}
	if head, err := e.provider.Head(ctx, "p"); err != nil || head != rev {
		t.Errorf("Head(p) = %q, %v; want %q", head, err, rev)
	}
	if got := e.bareGit(t, "p", "ls-tree", "-r", "--name-only", "main"); got != strings.Join(want, "\n") {
		t.Errorf("git ls-tree = %q; want %q", got, strings.Join(want, "\n"))
	}
}

func TestDeleteRepository(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createAndCommit(t, "p", sampleFiles())
	for i := range 2 {
		if err := e.provider.DeleteRepository(ctx, "p"); err != nil {
			t.Fatalf("DeleteRepository(p) #%d = %v; want nil", i+1, err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.provider.Root, "p.git")); !os.IsNotExist(err) {
		t.Errorf("stat p.git after delete = %v; want not exist", err)
	}
	left := func(when string) {
		t.Helper()
		filepath.WalkDir(e.provider.Root, func(path string, de fs.DirEntry, err error) error {
			if err == nil && path != e.provider.Root && path != filepath.Join(e.provider.Root, ".locks") {
				t.Errorf("%s: %s is left in the root", when, path)
			}
			return err
		})
	}
	left("after delete")
	if _, err := e.provider.Commit(ctx, "p", sampleFiles(), "x"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("Commit(deleted p) = %v; want %s", err, onramp.ENOTFOUND)
	}
	if _, err := e.provider.ListTree(ctx, "p"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
		t.Errorf("ListTree(deleted p) = %v; want %s", err, onramp.ENOTFOUND)
	}
	resp := e.do(t, "GET", "/git/p.git/info/refs?service=git-upload-pack", "p-reader", "read-secret", nil, nil)
	if resp.StatusCode != 404 {
		t.Errorf("info/refs of deleted p = %d; want 404", resp.StatusCode)
	}
	resp = e.do(t, "POST", "/git/p.git/git-upload-pack", "p-reader", "read-secret", http.Header{"Content-Type": {"application/x-git-upload-pack-request"}}, []byte("0000"))
	if resp.StatusCode != 404 {
		t.Errorf("git-upload-pack of deleted p = %d; want 404", resp.StatusCode)
	}
	left("after reads of the deleted repository")
	// It can be created again from scratch.
	if rev := e.createAndCommit(t, "p", sampleFiles()); !revisionPattern.MatchString(rev) {
		t.Errorf("Commit(recreated p) = %q", rev)
	}
}

// The lock file of a deleted repository is removed while it is held; a
// writer that was waiting for it then locks the file that stands at its
// path, not the removed one, so two holders never lock different files.
func TestLockOfRemovedFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createAndCommit(t, "p", sampleFiles())
	path := filepath.Join(e.provider.Root, ".locks", "p.lock")
	hold := func() *os.File {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		return f
	}
	first := hold()
	done := make(chan error, 1)
	go func() {
		_, err := e.provider.Commit(ctx, "p", map[string][]byte{"a.yaml": []byte("a: 1\n")}, "waits")
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // the Commit now waits for first's file
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	second := hold() // as another process would, on a new file
	first.Close()
	select {
	case err := <-done:
		t.Fatalf("Commit went ahead while the lock file at its path was held (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	second.Close()
	if err := <-done; err != nil {
		t.Fatalf("Commit after the lock was released = %v", err)
	}
}

func TestProviderInvalid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.provider.CreateRepository(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	names := []string{"", "P", "a_b", "-a", "a-", "a.b", "../p", strings.Repeat("a", 64)}
	for _, name := range names {
		t.Run("name "+name, func(t *testing.T) {
			checkCode(t, "CreateRepository", name, onramp.EINVALID, func() error {
				_, err := e.provider.CreateRepository(ctx, name)
				return err
			})
			checkCode(t, "Commit", name, onramp.EINVALID, func() error {
				_, err := e.provider.Commit(ctx, name, sampleFiles(), "x")
				return err
			})
			checkCode(t, "DeleteRepository", name, onramp.EINVALID, func() error {
				return e.provider.DeleteRepository(ctx, name)
			})
		})
	}
	tests := []struct {
		name  string
		files onramp.Files
		want  string
	}{
		{name: "empty path", files: onramp.Files{"": nil}, want: onramp.EINVALID},
		{name: "absolute", files: onramp.Files{"/etc/passwd": nil}, want: onramp.EINVALID},
		{name: "double slash", files: onramp.Files{"a//b": nil}, want: onramp.EINVALID},
		{name: "trailing slash", files: onramp.Files{"a/": nil}, want: onramp.EINVALID},
		{name: "dot dot", files: onramp.Files{"a/../b": nil}, want: onramp.EINVALID},
		{name: "dot", files: onramp.Files{"./a": nil}, want: onramp.EINVALID},
		{name: ".git", files: onramp.Files{"sub/.GIT/config": nil}, want: onramp.EINVALID},
		{name: "file and directory", files: onramp.Files{"a": nil, "a/b": nil}, want: onramp.EINVALID},
		{name: "no files is an empty tree", files: onramp.Files{}, want: ""},
	}
	for _, tt := range tests {
		checkCode(t, "Commit", tt.name, tt.want, func() error {
			_, err := e.provider.Commit(ctx, "p", tt.files, "x")
			return err
		})
	}
	if got := e.bareGit(t, "p", "rev-list", "--count", "--all"); got != "1" {
		t.Errorf("commits after invalid Commits = %s; want only the empty tree's 1", got)
	}
}

// checkCode fails t unless call returns an error with code want ("" for
// nil).
func checkCode(t *testing.T, method, arg, want string, call func() error) {
	t.Helper()
	if err := call(); onramp.ErrorCode(err) != want {
		t.Errorf("%s(%q) = %v; want code %q", method, arg, err, want)
	}
}

func TestProviderBranch(t *testing.T) {
	root := t.TempDir()
	p := &gitserver.Provider{Root: root, BaseURL: "http://example.com/git/", Branch: "production"}
	ctx := context.Background()
	repo, err := p.CreateRepository(ctx, "p")
	want := onramp.Repository{URL: "http://example.com/git/p.git", Branch: "production"}
	if err != nil || repo != want {
		t.Errorf("CreateRepository(p) = %+v, %v; want %+v", repo, err, want)
	}
	rev, err := p.Commit(ctx, "p", sampleFiles(), "x")
	if err != nil || !strings.HasPrefix(rev, "production@sha1:") {
		t.Errorf("Commit(p) = %q, %v; want production@sha1:…", rev, err)
	}
}

func TestCommitMessage(t *testing.T) {
	e := newEnv(t)
	first := e.createAndCommit(t, "p", sampleFiles())
	second, err := e.provider.Commit(context.Background(), "p", changedFiles(), "Change the README\n\nFor staging.")
	if err != nil {
		t.Fatal(err)
	}
	tree := e.bareGit(t, "p", "rev-parse", "main^{tree}")
	tests := []struct {
		name, project, revision string
		want, wantCode          string
	}{
		{name: "as Flux writes it", project: "p", revision: first, want: "render"},
		{name: "bare SHA", project: "p", revision: strings.TrimPrefix(second, "main@sha1:"), want: "Change the README\n\nFor staging."},
		{name: "unknown SHA", project: "p", revision: "main@sha1:" + strings.Repeat("0", 40), wantCode: onramp.ENOTFOUND},
		{name: "a tree", project: "p", revision: tree, wantCode: onramp.ENOTFOUND},
		{name: "no repository", project: "q", revision: first, wantCode: onramp.ENOTFOUND},
		{name: "not a revision", project: "p", revision: "main", wantCode: onramp.EINVALID},
	}
	for _, tt := range tests {
		got, err := gitserver.Project{Provider: e.provider}.CommitMessage(context.Background(), tt.project, tt.revision)
		if got != tt.want || onramp.ErrorCode(err) != tt.wantCode {
			t.Errorf("%s: CommitMessage(%s, %s) = %q, %v; want %q, code %q", tt.name, tt.project, tt.revision, got, err, tt.want, tt.wantCode)
		}
	}
}
