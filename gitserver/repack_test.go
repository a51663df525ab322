package gitserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// packs counts project's packs on disk.
func (e *env) packs(t *testing.T, project string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(e.provider.Root, project+".git", "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// Every push stores a pack; once a repository holds more than a few, a
// push packs what is reachable into one and removes the packs it holds,
// but not while a clone or fetch reads the repository (it waits 0.5 s for
// it, then leaves the repack to a later push). History, clones and git's
// own check stay whole throughout.
func TestPushesRepack(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	dir := e.cloneAs(t, "p-writer", "p")
	push := func(i int) string {
		t.Helper()
		sha := commitFile(t, dir, fmt.Sprintf("app/%d.yaml", i), []byte("kind: ConfigMap\nindex: "+strconv.Itoa(i)+"\n"))
		mustGit(t, dir, "push", "-q", "origin", "main")
		return sha
	}
	most := 0
	for i := range 20 {
		push(i)
		most = max(most, e.packs(t, "p"))
	}
	if most > 9 {
		t.Errorf("after 20 pushes the repository held up to %d packs; want at most 9", most)
	}

	// A reader holds the repository: the packs stay while it reads.
	lock, err := os.OpenFile(filepath.Join(e.provider.Root, "p.git", "onramp-readers.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("the readers' lock file: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	for i := 20; i < 30; i++ {
		push(i)
	}
	if n := e.packs(t, "p"); n <= 10 {
		t.Errorf("10 pushes while a reader held the repository left %d packs; want every one kept", n)
	}
	clone := e.cloneAs(t, "p-reader", "p") // readers share the lock
	if n := mustGit(t, clone, "rev-list", "--count", "HEAD"); n != "31" {
		t.Errorf("a clone while the packs stayed has %s commits; want 31", n)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	last := push(30)
	if n := e.packs(t, "p"); n > 2 {
		t.Errorf("the push after the reader left %d packs; want the old ones removed", n)
	}
	e.bareGit(t, "p", "fsck", "--strict", "--no-dangling")
	clone = e.cloneAs(t, "p-reader", "p")
	if head := mustGit(t, clone, "rev-parse", "HEAD"); head != last {
		t.Errorf("clone's HEAD = %s; want the last push %s", head, last)
	}
	if n := mustGit(t, clone, "rev-list", "--count", "HEAD"); n != "32" {
		t.Errorf("clone has %s commits; want 32 (onramp's and 31 pushed)", n)
	}
}

// Clones running while pushes repack all succeed, the repository stays
// whole, and the pushes find moments without readers to repack in.
func TestClonesDuringRepacks(t *testing.T) {
	e := newEnv(t)
	e.createAndCommit(t, "p", sampleFiles())
	dir := e.cloneAs(t, "p-writer", "p")
	stop := make(chan struct{})
	errs := make(chan error, 2)
	clones := 0
	var mu sync.Mutex
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				out, err := git(t, t.TempDir(), "clone", "-q", e.repoURL("p-reader", "p"), "c")
				if err != nil {
					errs <- fmt.Errorf("clone during pushes: %v\n%s", err, out)
					return
				}
				mu.Lock()
				clones++
				mu.Unlock()
			}
		}()
	}
	for i := range 30 {
		commitFile(t, dir, fmt.Sprintf("app/%d.yaml", i), []byte("index: "+strconv.Itoa(i)+"\n"))
		mustGit(t, dir, "push", "-q", "origin", "main")
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := e.packs(t, "p"); n > 9 {
		t.Errorf("after 30 pushes beside clones: %d packs; want the repacks to have removed some", n)
	}
	t.Logf("%d clones beside 30 pushes", clones)
	e.bareGit(t, "p", "fsck", "--strict")
}
