// Package giteatest gives tests a real Gitea: one per test binary, started
// on first use in a temporary data dir and stopped when the tests end.
//
//	func TestMain(m *testing.M) { giteatest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		g := giteatest.Gitea(t) // URL, SSHAddr, KnownHosts, Admin{User, Password, Token}
//		...
//	}
//
// Tests never build Gitea (a cold build takes about 7 minutes). When it is
// not built, tests that need it skip, or, with ONRAMP_REQUIRE_GITEA=1 (make
// test, CI), the test binary exits 1 saying to run `make gitea`.
// ONRAMP_GITEA_BIN=DIR uses a Gitea built into DIR instead of the cache.
package giteatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onramp/onramp/localgitea"
)

// Environment variables read by Main.
const (
	// EnvRequire makes a missing Gitea a failure instead of a skip.
	EnvRequire = "ONRAMP_REQUIRE_GITEA"
	// EnvBinDir points at a folder Build filled.
	EnvBinDir = "ONRAMP_GITEA_BIN"
)

// skipMessage is what Gitea tests say when Gitea is not built.
const skipMessage = "gitea not built: run `make gitea`"

// logLines is how many lines of Gitea's log a failing test prints.
const logLines = 40

// shared is what Main prepared for this test binary; Gitea(t) has no other
// way to reach it. It is written once in Main and guarded by once after.
var shared *env

// env is one test binary's Gitea.
type env struct {
	binDir   string
	binErr   error
	dataDir  string
	once     sync.Once
	gitea    *localgitea.Gitea
	startErr error
}

// Runner runs a package's tests: a *testing.M, or another test helper's
// wrapper of it.
type Runner interface{ Run() int }

// Main runs the tests of a package that uses Gitea; call it from TestMain.
// Gitea starts on the first Gitea call, so a run that selects no Gitea test
// pays nothing. Main stops it and exits with the tests' code.
func Main(m Runner) {
	os.Exit(run(m))
}

// Wrap returns m with a Gitea around it, for a package that needs another
// helper's TestMain too:
//
//	func TestMain(m *testing.M) { clustertest.Main(giteatest.Wrap(m)) }
func Wrap(m Runner) Runner { return wrapped{m} }

// wrapped is what Wrap returns.
type wrapped struct{ m Runner }

// Run runs the tests between Gitea's setup and teardown.
func (w wrapped) Run() int { return run(w.m) }

// run is Main without the exit, so that deferred cleanup runs.
func run(m Runner) int {
	e := &env{}
	e.binDir, e.binErr = findBinary()
	if e.binErr != nil {
		if os.Getenv(EnvRequire) == "1" {
			fmt.Fprintf(os.Stderr, "giteatest: %v\n%s=1 is set, so this is fatal: build Gitea with `make gitea` (go run ./cmd/localgitea build)\n", e.binErr, EnvRequire)
			return 1
		}
		fmt.Fprintf(os.Stderr, "giteatest: %v; tests that need Gitea will skip\n", e.binErr)
	}
	removeStaleDataDirs()
	dataDir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dataDirPrefix, os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "giteatest: create data dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dataDir)
	e.dataDir = dataDir
	shared = e
	code := m.Run()
	if e.gitea != nil {
		if err := e.gitea.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "giteatest: stop gitea: %v\n", err)
		}
	}
	return code
}

// dataDirPrefix starts the name of every shared Gitea's temporary data dir;
// the pid of the test binary follows.
const dataDirPrefix = "onramp-giteatest-"

// removeStaleDataDirs deletes the data dirs of test binaries that died
// without cleaning up (a test timeout exits without running defers).
func removeStaleDataDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dataDirPrefix+"*"))
	for _, dir := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dataDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(dir)
		}
	}
}

// findBinary locates the built Gitea as the environment says.
func findBinary() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		return dir, localgitea.CheckBinDir(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return localgitea.Lookup(ctx, localgitea.BuildOptions{})
}

// Gitea returns the shared Gitea of this test binary, starting it on first
// use; a test that fails prints the end of its log. It skips t when Gitea is
// not built. Do not Stop it: use BinDir and localgitea.Start for a Gitea of
// the test's own.
func Gitea(t testing.TB) *localgitea.Gitea {
	t.Helper()
	e := get(t)
	e.once.Do(func() {
		start := time.Now()
		e.gitea, e.startErr = localgitea.Start(context.Background(), localgitea.Options{BinDir: e.binDir, DataDir: e.dataDir})
		if e.startErr == nil {
			fmt.Fprintf(os.Stderr, "giteatest: gitea started in %s at %s\n", time.Since(start).Round(time.Millisecond), e.gitea.URL)
		}
	})
	if e.startErr != nil {
		t.Fatalf("start shared gitea: %v", e.startErr)
	}
	g := e.gitea
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gitea log (%s):\n%s", g.LogPath(), g.Logs(logLines))
		}
	})
	return g
}

// BinDir returns the folder Gitea was built into, for tests that start a
// Gitea of their own. It skips t when Gitea is not built.
func BinDir(t testing.TB) string {
	t.Helper()
	return get(t).binDir
}

// get returns the shared environment, or ends t: skip when Gitea is not
// built, fatal when Main was not called.
func get(t testing.TB) *env {
	t.Helper()
	e := shared
	if e == nil {
		t.Fatal("giteatest.Main was not called: add `func TestMain(m *testing.M) { giteatest.Main(m) }` to this package")
	}
	if e.binErr != nil {
		t.Skip(skipMessage)
	}
	return e
}
