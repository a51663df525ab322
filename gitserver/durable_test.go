package gitserver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onramp/onramp/gitserver"
)

// A repository made, a commit, an accepted push and a deletion are synced
// to disk after their last write and before onramp (or git) is told they
// are done: what the database then records survives a crash of the
// machine. A power cut cannot be made here, so the sync is watched: at
// each call the repository must already be as the answer will say, and a
// failed sync fails the operation.
func TestWritesAreDurableBeforeDone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var seen []string // the head (or "absent") at each sync
	var failWith error
	head := func() string {
		if _, err := os.Stat(filepath.Join(e.provider.Root, "p.git")); err != nil {
			return "absent"
		}
		out, err := git(t, e.provider.Root, "--git-dir=p.git", "rev-parse", "--verify", "-q", "refs/heads/main")
		if err != nil {
			return "no branch"
		}
		return strings.TrimSpace(out)
	}
	defer gitserver.SetDurable(func(root string) error {
		if root != e.provider.Root {
			t.Errorf("synced %s; want the repositories' root %s", root, e.provider.Root)
		}
		seen = append(seen, head())
		return failWith
	})()
	last := func() string {
		t.Helper()
		if len(seen) == 0 {
			t.Fatal("not synced")
		}
		s := seen[len(seen)-1]
		seen = nil
		return s
	}

	if _, err := e.provider.CreateRepository(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != "no branch" {
		t.Errorf("at the sync of CreateRepository: %s; want the repository made", got)
	}
	rev, err := e.provider.Commit(ctx, "p", sampleFiles(), "render")
	if err != nil {
		t.Fatal(err)
	}
	if got := last(); "main@sha1:"+got != rev {
		t.Errorf("at the sync of Commit: head %s; want the commit answered, %s", got, rev)
	}

	dir := e.cloneAs(t, "p-writer", "p")
	seen = nil
	pushed := commitFile(t, dir, "app/new.yaml", []byte("kind: ConfigMap\n"))
	mustGit(t, dir, "push", "origin", "main")
	if got := last(); got != pushed {
		t.Errorf("at the sync of a push: head %s; want the pushed %s", got, pushed)
	}

	failWith = errors.New("disk gone")
	commitFile(t, dir, "app/other.yaml", []byte("kind: ConfigMap\n"))
	if out, err := git(t, dir, "push", "origin", "main"); err == nil {
		t.Errorf("push whose sync failed succeeded:\n%s", out)
	}
	if _, err := e.provider.Commit(ctx, "p", sampleFiles(), "render again"); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("Commit whose sync failed = %v; want the sync's error", err)
	}
	failWith = nil

	seen = nil
	if err := e.provider.DeleteRepository(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != "absent" {
		t.Errorf("at the sync of DeleteRepository: %s; want the repository gone", got)
	}
}
