package gitserver_test

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// cloneAs clones project with user's credentials and returns the work tree.
func (e *env) cloneAs(t *testing.T, user, project string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), project)
	mustGit(t, t.TempDir(), append(append([]string{"clone"}, args...), e.repoURL(user, project), dir)...)
	return dir
}

// commitFile writes one file in the work tree dir and commits it.
func commitFile(t *testing.T, dir, path string, content []byte) string {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, content, 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, dir, "add", "-A")
	mustGit(t, dir, "commit", "-q", "-m", "add "+path)
	return mustGit(t, dir, "rev-parse", "HEAD")
}

func TestPushGitCLI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createAndCommit(t, "p", sampleFiles())
	dir := e.cloneAs(t, "p-writer", "p")
	local := commitFile(t, dir, "app/new.yaml", []byte("kind: ConfigMap\n"))

	out, err := git(t, dir, "push", e.repoURL("p-reader", "p"), "HEAD:main")
	if err == nil || !strings.Contains(out, "Authentication failed") {
		t.Fatalf("push as reader = %v, %q; want authentication failure", err, out)
	}
	if head, _ := e.provider.Head(ctx, "p"); head == "main@sha1:"+local {
		t.Fatalf("Head after refused push = %s; want it unchanged", head)
	}

	mustGit(t, dir, "push", "origin", "main")
	if head, err := e.provider.Head(ctx, "p"); err != nil || head != "main@sha1:"+local {
		t.Fatalf("Head after push = %q, %v; want %q", head, err, "main@sha1:"+local)
	}
	paths, err := e.provider.ListTree(ctx, "p")
	if err != nil || !slices.Contains(paths, "app/new.yaml") {
		t.Errorf("ListTree after push = %q, %v; want it to contain app/new.yaml", paths, err)
	}

	// onramp's next render builds on what was pushed.
	rev, err := e.provider.Commit(ctx, "p", sampleFiles(), "render again")
	if err != nil {
		t.Fatalf("Commit after push = %v", err)
	}
	sha := strings.TrimPrefix(rev, "main@sha1:")
	if got := e.bareGit(t, "p", "rev-parse", sha+"^"); got != local {
		t.Errorf("parent of %s = %s; want the pushed %s", sha, got, local)
	}
	e.bareGit(t, "p", "fsck", "--strict")
}

func TestPushToEmpty(t *testing.T) {
	e := newEnv(t)
	if _, err := e.provider.CreateRepository(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mustGit(t, dir, "init", "-q", "-b", "main")
	local := commitFile(t, dir, "a.txt", []byte("a\n"))
	mustGit(t, dir, "push", e.repoURL("p-writer", "p"), "main")
	if head, err := e.provider.Head(context.Background(), "p"); err != nil || head != "main@sha1:"+local {
		t.Errorf("Head after push to empty = %q, %v; want %q", head, err, "main@sha1:"+local)
	}
}

func TestPushRefUpdates(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	dir := e.cloneAs(t, "p-writer", "p")
	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantOutput string
		wantRefs   string // refs/heads in the bare repository afterwards
	}{
		{name: "new branch", args: []string{"push", "origin", "main:feature"}, wantRefs: "refs/heads/feature refs/heads/main"},
		{name: "delete branch", args: []string{"push", "origin", ":feature"}, wantRefs: "refs/heads/main"},
		{name: "delete the current branch", args: []string{"push", "origin", ":main"}, wantErr: true,
			wantOutput: "deletion of the current branch prohibited", wantRefs: "refs/heads/main"},
		{name: "tag", args: []string{"push", "origin", "HEAD:refs/tags/v1"}, wantRefs: "refs/heads/main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := git(t, dir, tt.args...)
			if (err != nil) != tt.wantErr || !strings.Contains(out, tt.wantOutput) {
				t.Errorf("git %s = %v, %q; want error %v saying %q", tt.args, err, out, tt.wantErr, tt.wantOutput)
			}
			got := strings.Join(strings.Fields(e.bareGit(t, "p", "for-each-ref", "--format=%(refname)", "refs/heads")), " ")
			if got != tt.wantRefs {
				t.Errorf("after git %s, branches = %q; want %q", tt.args, got, tt.wantRefs)
			}
		})
	}
}

func TestReceivePackOldValue(t *testing.T) {
	e := newEnv(t)
	first := strings.TrimPrefix(e.createAndCommit(t, "p", sampleFiles()), "main@sha1:")
	rev, err := e.provider.Commit(context.Background(), "p", changedFiles(), "second")
	if err != nil {
		t.Fatal(err)
	}
	second := strings.TrimPrefix(rev, "main@sha1:")
	tests := []struct {
		name, old, new string
		wantReport     string
		wantHead       string
	}{
		// A client that saw an older head must not overwrite a newer one.
		{name: "stale old value", old: first, new: first, wantReport: "ng refs/heads/main stale info", wantHead: second},
		{name: "current old value", old: second, new: first, wantReport: "ok refs/heads/main", wantHead: first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := pkt(tt.old+" "+tt.new+" refs/heads/main\x00report-status\n") + "0000" + emptyPack()
			h := http.Header{"Content-Type": {"application/x-git-receive-pack-request"}}
			resp := e.do(t, "POST", "/git/p.git/git-receive-pack", "p-writer", "write-secret", h, []byte(body))
			report, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !strings.Contains(string(report), tt.wantReport) {
				t.Errorf("receive-pack(%q) = %d %q; want 200 with %q", tt.name, resp.StatusCode, report, tt.wantReport)
			}
			if head, _ := e.provider.Head(context.Background(), "p"); head != "main@sha1:"+tt.wantHead {
				t.Errorf("receive-pack(%q): Head = %s; want %s", tt.name, head, tt.wantHead)
			}
		})
	}
}

// emptyPack is a pack with no objects, what git sends when the server has
// every object already.
func emptyPack() string {
	pack := []byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00")
	sum := sha1.Sum(pack)
	return string(pack) + string(sum[:])
}

func TestPushLarge(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	dir := e.cloneAs(t, "p-writer", "p")
	// Bigger than git's 1 MiB http.postBuffer: a probe, then a chunked body.
	big := make([]byte, 3<<20)
	rand.Read(big)
	local := commitFile(t, dir, "big.bin", big)
	mustGit(t, dir, "push", "origin", "main")
	if head, err := e.provider.Head(context.Background(), "p"); err != nil || head != "main@sha1:"+local {
		t.Errorf("Head after large push = %q, %v; want %q", head, err, "main@sha1:"+local)
	}
	e.bareGit(t, "p", "fsck", "--strict")
}

func TestFetchGitCLI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.createAndCommit(t, "p", sampleFiles())
	full := e.cloneAs(t, "p-reader", "p")
	shallow := e.cloneAs(t, "p-reader", "p", "--depth", "1")
	if _, err := e.provider.Commit(ctx, "p", changedFiles(), "second"); err != nil {
		t.Fatal(err)
	}
	rev, err := e.provider.Commit(ctx, "p", sampleFiles(), "third")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		dir         string
		args        []string
		wantCommits string
	}{
		{name: "pull", dir: full, args: []string{"pull", "-q", "--ff-only"}, wantCommits: "3"},
		{name: "shallow fetch", dir: shallow, args: []string{"fetch", "--depth", "1", "origin", "main"}, wantCommits: "1"},
		{name: "depth 2", dir: shallow, args: []string{"fetch", "--depth", "2", "origin", "main"}, wantCommits: "2"},
		{name: "unshallow", dir: shallow, args: []string{"fetch", "--unshallow", "origin", "main"}, wantCommits: "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustGit(t, tt.dir, tt.args...)
			got := mustGit(t, tt.dir, "rev-parse", "FETCH_HEAD")
			if "main@sha1:"+got != rev {
				t.Errorf("git %s: FETCH_HEAD = %s; want %s", tt.args, got, rev)
			}
			if got := mustGit(t, tt.dir, "rev-list", "--count", "FETCH_HEAD"); got != tt.wantCommits {
				t.Errorf("git %s: commits = %s; want %s", tt.args, got, tt.wantCommits)
			}
			mustGit(t, tt.dir, "fsck")
		})
	}
}

// TestLogsNoCredentials checks that no credential reaches the log, in the
// password or in the user name, where a client may put its token
// (http://TOKEN:@host/…).
func TestLogsNoCredentials(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	e.do(t, "GET", "/git/p.git/info/refs?service=git-upload-pack", "p-reader", "wrong-secret", nil, nil)
	e.do(t, "GET", "/git/p.git/info/refs?service=git-upload-pack", "token-as-user-secret", "", nil, nil)
	e.do(t, "GET", "/git/p.git/info/refs?service=git-upload-pack", "q-secret", "", nil, nil)
	dir := e.cloneAs(t, "p-writer", "p")
	commitFile(t, dir, "x.txt", []byte("x\n"))
	mustGit(t, dir, "push", "origin", "main")
	logs := e.logs.String()
	for _, want := range []string{"as=token", "status=401", "ref=refs/heads/main"} {
		if !strings.Contains(logs, want) {
			t.Errorf("server log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"wrong-secret", "write-secret", "token-as-user-secret", "q-secret", "p-reader", "p-writer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("server log contains the password %q:\n%s", secret, logs)
		}
	}
}
