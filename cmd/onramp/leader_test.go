package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// The Lease's timings in TestLeaderHandsOver: short, so that a replica
// killed without releasing it is replaced within seconds.
const (
	testLease = 6 * time.Second
	testRenew = 4 * time.Second
	testRetry = 500 * time.Millisecond
)

// replica is an `onramp serve` process of the test binary.
type replica struct {
	cmd *exec.Cmd
	url string
}

// leads reports what the replica's /metrics says of its leadership.
func (r *replica) leads(t *testing.T) bool {
	t.Helper()
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		return false // stopped, or stopping
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "onramp_leader{") {
			return strings.HasSuffix(line, " 1")
		}
	}
	t.Fatalf("%s/metrics has no onramp_leader", r.url)
	return false
}

// log is what the replica has logged so far.
func (r *replica) log() string {
	b, _ := os.ReadFile(cmdLog(r.cmd))
	return string(b)
}

// Two replicas on one PostgreSQL database and one onramp namespace: exactly
// one leads the status watcher, which records the status of projects
// created through either. Stopped with SIGTERM, the leader releases the
// Lease and tells its event streams to reconnect, and the other replica
// leads at once and keeps recording status; killed with SIGKILL, the
// leader is replaced once its Lease expires.
func TestLeaderHandsOver(t *testing.T) {
	if os.Getenv("ONRAMP_TEST_POSTGRES_URL") == "" {
		t.Skip("set ONRAMP_TEST_POSTGRES_URL: replicas share PostgreSQL")
	}
	url := storetest.URL(t, store.Postgres)
	dataDir := t.TempDir() // shared, as a ReadWriteMany volume: the built-in Git server's repositories
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	env := []string{
		"KUBECONFIG=" + clustertest.Cluster(t).KubeconfigPath(),
		"ONRAMP_NAMESPACE=" + clustertest.Namespace(t),
		"ONRAMP_SECRET_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)),
		// Flux clones from b, which outlives a.
		"ONRAMP_GIT_URL=http://" + addrs[1] + "/git",
	}
	start := func(addr string) *replica {
		cmd := subprocess(t, env, "serve", "--addr", addr, "--data-dir", dataDir, "--database-url", url, "--log-level", "info",
			"--leader-lease", testLease.String(), "--leader-renew", testRenew.String(), "--leader-retry", testRetry.String())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return &replica{cmd: cmd, url: serverURL(t, cmd)}
	}
	a := start(addrs[0])
	waitUntil(t, 30*time.Second, "a leads", func() bool { return a.leads(t) })
	b := start(addrs[1])
	time.Sleep(2 * testRetry) // b has tried for the Lease
	if a.leads(t) == b.leads(t) || !strings.Contains(a.log(), "leading the status watcher") || strings.Contains(b.log(), "leading the status watcher") {
		t.Fatalf("a leads: %v, b leads: %v; want a only, in /metrics and the log", a.leads(t), b.leads(t))
	}

	db := storetest.OpenURL(t, url)
	tok, err := db.CreateToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	name := readyProject(t, &server{url: b.url}, tok) // created through b, judged by a's watcher

	stream := streamBody(t, a.url, tok, name)
	stopped := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, testLease, "b leads after a's SIGTERM", func() bool { return b.leads(t) })
	took := time.Since(stopped)
	t.Logf("b led %s after a's SIGTERM", took)
	if took > testLease/2 {
		t.Errorf("b led %s after a's SIGTERM; want well under the lease's %s: a releases it", took, testLease)
	}
	if err := a.cmd.Wait(); err != nil {
		t.Errorf("a after SIGTERM: %v; want a clean exit", err)
	}
	if !strings.Contains(a.log(), "stopped leading the status watcher") {
		t.Errorf("a's log does not say it stopped leading")
	}
	if body := <-stream; !strings.HasSuffix(body, "retry: 1000\n\n") {
		t.Errorf("a's event stream ended with %q; want a reconnect hint (retry: 1000)", tail(body))
	}

	// Status keeps flowing, recorded by b, the only replica left.
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name}}
	if err := kubeClient(t).Delete(context.Background(), ks); err != nil {
		t.Fatal(err)
	}
	srvB := &server{url: b.url}
	p := waitPhase(t, srvB, tok, name, onramp.PhaseDegraded, time.Minute)
	if r := resourceOf(p, onramp.KindKustomization); r.Status != onramp.StatusMissing {
		t.Errorf("the deleted Kustomization = %+v; want missing", r)
	}
	if code := call(t, "POST", b.url+"/api/v1/projects/"+name+"/retry", tok, nil, nil); code != 202 {
		t.Fatalf("retry = %d", code)
	}
	waitPhase(t, srvB, tok, name, onramp.PhaseReady, time.Minute)

	// A leader killed outright keeps its Lease until it expires.
	c := start(addrs[2])
	time.Sleep(2 * testRetry)
	if c.leads(t) {
		t.Fatal("c leads while b holds the Lease")
	}
	killed := time.Now()
	b.cmd.Process.Kill()
	b.cmd.Wait()
	waitUntil(t, testLease+5*time.Second, "c leads after b's SIGKILL", func() bool { return c.leads(t) })
	took = time.Since(killed)
	t.Logf("c led %s after b's SIGKILL", took)
	if took < testLease/2 {
		t.Errorf("c led %s after b's SIGKILL; want about the lease's %s", took, testLease)
	}
}

// streamBody opens a project's event stream and returns a channel that
// receives all it read once the server ends it.
func streamBody(t *testing.T, url, tok, name string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/api/v1/projects/"+name+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("event stream = %d", resp.StatusCode)
	}
	body := make(chan string, 1)
	go func() {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	return body
}

// tail is the end of s, for a failure message.
func tail(s string) string {
	return s[max(0, len(s)-200):]
}
