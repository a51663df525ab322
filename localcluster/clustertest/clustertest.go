// Package clustertest gives tests a real Kubernetes control plane with Flux:
// one shared cluster per test binary, started on first use and stopped when
// the tests end.
//
//	func TestMain(m *testing.M) { clustertest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		cfg := clustertest.Config(t)     // admin *rest.Config
//		ns := clustertest.Namespace(t)   // fresh namespace, deleted after the test
//		...
//	}
//
// The binaries are never built during tests unless ONRAMP_BUILD_CLUSTER=1:
// a cold build takes ~20 minutes. When they are missing, tests that need a
// cluster skip, or, with ONRAMP_REQUIRE_CLUSTER=1 (CI), the test binary
// exits 1 saying to run `make localcluster`. ONRAMP_LOCALCLUSTER_BIN=DIR uses
// binaries from DIR instead of the build cache.
package clustertest

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

	"github.com/onramp/onramp/localcluster"
	"k8s.io/client-go/rest"
)

// Environment variables read by Main.
const (
	// EnvRequire makes a missing control plane a failure instead of a skip.
	EnvRequire = "ONRAMP_REQUIRE_CLUSTER"
	// EnvBuild lets Main build missing binaries (slow when cold).
	EnvBuild = "ONRAMP_BUILD_CLUSTER"
	// EnvBinDir points at a folder of prebuilt binaries and crds/.
	EnvBinDir = "ONRAMP_LOCALCLUSTER_BIN"
)

// skipMessage is what cluster tests say when the binaries are missing.
const skipMessage = "local control plane not built: run `make localcluster`"

// logLines is how many lines of each component log a failing test prints.
const logLines = 40

// shared is the state Main sets up for this test binary. It is package state
// because Config(t) and friends have no other way to reach what TestMain
// prepared; it is written once in Main and guarded by its own locks after.
var shared *env

// env is one test binary's view of its cluster.
type env struct {
	binDir    string
	binErr    error // why there are no binaries; tests skip
	dataDir   string
	startOnce sync.Once
	cluster   *localcluster.Cluster
	startErr  error

	mu     sync.Mutex
	logged map[testing.TB]bool // tests that already registered log output
}

// Main runs the tests of a package that uses the cluster; call it from
// TestMain. The cluster starts on the first Config, Cluster or Namespace call
// (in a temporary data dir), so a run that selects no cluster tests pays
// nothing. Main stops it and exits with the tests' code.
// m is the package's *testing.M, or another helper's wrapper of it (such as
// giteatest.Wrap(m), for tests that need a Gitea too).
func Main(m interface{ Run() int }) {
	os.Exit(run(m))
}

// run is Main without the exit, so that deferred cleanup runs.
func run(m interface{ Run() int }) int {
	e := &env{logged: map[testing.TB]bool{}}
	e.binDir, e.binErr = findBinaries()
	if e.binErr != nil {
		if os.Getenv(EnvRequire) == "1" {
			fmt.Fprintf(os.Stderr, "clustertest: %v\n%s=1 is set, so this is fatal: build the control plane with `make localcluster` (go run ./cmd/localcluster build)\n", e.binErr, EnvRequire)
			return 1
		}
		fmt.Fprintf(os.Stderr, "clustertest: %v; tests that need a cluster will skip\n", e.binErr)
	}
	removeStaleDataDirs()
	dataDir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dataDirPrefix, os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "clustertest: create data dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dataDir)
	e.dataDir = dataDir
	shared = e
	code := m.Run()
	if e.cluster != nil {
		if err := e.cluster.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: stop cluster: %v\n", err)
		}
	}
	return code
}

// dataDirPrefix starts the name of every shared cluster's temporary data
// dir; the pid of the test binary follows.
const dataDirPrefix = "onramp-clustertest-"

// removeStaleDataDirs deletes the data dirs of test binaries that died
// without cleaning up (a test timeout exits without running defers); each
// holds ~120 MB of preallocated etcd WAL.
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

// findBinaries locates the control plane binaries as the environment says.
func findBinaries() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		return dir, localcluster.CheckBinDir(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if os.Getenv(EnvBuild) == "1" {
		return localcluster.Build(ctx, localcluster.BuildOptions{Progress: os.Stderr})
	}
	return localcluster.Lookup(ctx, localcluster.BuildOptions{})
}

// get returns the shared environment with a started cluster, or ends t:
// skip when the binaries are missing, fatal when the cluster does not run.
func get(t testing.TB) *env {
	t.Helper()
	e := shared
	if e == nil {
		t.Fatal("clustertest.Main was not called: add `func TestMain(m *testing.M) { clustertest.Main(m) }` to this package")
	}
	if e.binErr != nil {
		t.Skip(skipMessage)
	}
	e.startOnce.Do(func() {
		start := time.Now()
		e.cluster, e.startErr = localcluster.Start(context.Background(), localcluster.Options{BinDir: e.binDir, DataDir: e.dataDir})
		if e.startErr == nil {
			fmt.Fprintf(os.Stderr, "clustertest: local control plane started in %s (KUBECONFIG=%s)\n", time.Since(start).Round(time.Millisecond), e.cluster.KubeconfigPath())
		}
	})
	if e.startErr != nil {
		t.Fatalf("start shared local cluster: %v\n%s", e.startErr, localcluster.TailLogs(e.dataDir, logLines))
	}
	if err := e.cluster.Err(); err != nil {
		t.Fatalf("shared local cluster stopped: %v\n%s", err, e.cluster.Logs(logLines))
	}
	e.printLogsOnFailure(t)
	return e
}

// printLogsOnFailure makes t print the component logs if it fails, once per test.
func (e *env) printLogsOnFailure(t testing.TB) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.logged[t] {
		return
	}
	e.logged[t] = true
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("local control plane logs (KUBECONFIG=%s):\n%s", e.cluster.KubeconfigPath(), e.cluster.Logs(logLines))
		}
		e.mu.Lock()
		delete(e.logged, t)
		e.mu.Unlock()
	})
}

// Cluster returns the shared cluster of this test binary, starting it on
// first use. It skips t when the binaries are not built.
func Cluster(t testing.TB) *localcluster.Cluster {
	t.Helper()
	return get(t).cluster
}

// Config returns the admin REST config (group system:masters) of the shared
// cluster. It skips t when the binaries are not built.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	return get(t).cluster.RESTConfig()
}

// BinDir returns the folder of control plane binaries, for tests that start
// a cluster of their own with localcluster.Start. It skips t when the
// binaries are not built.
func BinDir(t testing.TB) string {
	t.Helper()
	e := shared
	if e == nil {
		t.Fatal("clustertest.Main was not called: add `func TestMain(m *testing.M) { clustertest.Main(m) }` to this package")
	}
	if e.binErr != nil {
		t.Skip(skipMessage)
	}
	return e.binDir
}
