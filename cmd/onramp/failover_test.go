package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/localgitea/giteatest"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// Three replicas on one PostgreSQL, each with a data dir of its own and a
// real Gitea as the Git provider every project goes to (the chart's
// gitProvider). Projects are created through all three; the replica
// leading the status watcher is killed with SIGKILL during the burst, then
// the next leader is stopped with SIGTERM. Every project converges to
// ready with exactly one of each object in the cluster and one repository
// in Gitea; the last replica's watcher sees a commit pushed after both
// failovers deployed; and the event streams of the replicas not killed
// see every event of every project, the stopped one's clients resuming on
// the last replica with Last-Event-ID.
func TestReplicasFailOver(t *testing.T) {
	if os.Getenv("ONRAMP_TEST_POSTGRES_URL") == "" {
		t.Skip("set ONRAMP_TEST_POSTGRES_URL: replicas share PostgreSQL")
	}
	g := giteatest.Gitea(t)
	url := storetest.URL(t, store.Postgres)
	var live liveReplicas
	env := []string{
		"KUBECONFIG=" + clustertest.Cluster(t).KubeconfigPath(),
		"ONRAMP_NAMESPACE=" + clustertest.Namespace(t),
		"ONRAMP_SECRET_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{11}, 32)),
		"ONRAMP_GIT_PROVIDER_KIND=gitea", "ONRAMP_GIT_PROVIDER_URL=" + g.URL,
		"ONRAMP_GIT_PROVIDER_OWNER=" + g.Admin.User, "ONRAMP_GIT_PROVIDER_TOKEN=" + g.Admin.Token,
		// Gitea delivers pushes to whichever replica answers, as through a Service.
		"ONRAMP_PUBLIC_URL=" + live.balancer(t),
	}
	start := func() *replica {
		cmd := subprocess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database-url", url, "--log-level", "info", "--workers", "4",
			"--leader-lease", testLease.String(), "--leader-renew", testRenew.String(), "--leader-retry", testRetry.String())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := &replica{cmd: cmd, url: serverURL(t, cmd)}
		live.add(r)
		return r
	}
	replicas := []*replica{start(), start(), start()}
	var leader *replica
	waitUntil(t, 30*time.Second, "one replica leads", func() bool { leader = leading(t, replicas); return leader != nil })
	others := slices.DeleteFunc(slices.Clone(replicas), func(r *replica) bool { return r == leader })

	db := storetest.OpenURL(t, url)
	tok, err := db.CreateToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var names []string
	followers := map[string][]*follower{}
	create := func(through *replica) {
		name := uniqueName("fo")
		body := map[string]any{"name": name, "template": "web-service", "environments": []map[string]string{
			{"name": "development", "type": "development"}, {"name": "production", "type": "production"}}}
		var answer map[string]any
		if code := call(t, "POST", through.url+"/api/v1/projects", tok, body, &answer); code != http.StatusAccepted {
			t.Fatalf("create %s through %s = %d %v", name, through.url, code, answer)
		}
		names = append(names, name)
		// Each replica not killed streams the project.
		followers[name] = []*follower{follow(t, tok, name, others[0].url), follow(t, tok, name, others[1].url)}
	}
	for _, r := range append(slices.Clone(replicas), replicas...) {
		create(r)
	}
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	live.remove(leader)
	leader.cmd.Wait()
	for _, r := range append(slices.Clone(others), others[0]) {
		create(r)
	}
	var next *replica
	waitUntil(t, testLease+5*time.Second, "another replica leads", func() bool { next = leading(t, others); return next != nil })
	t.Logf("%s led %s after the leader's SIGKILL", next.url, time.Since(killed).Round(100*time.Millisecond))
	last := others[0]
	if next == last {
		last = others[1]
	}
	// The streams of the replica stopped next go on from the last one.
	for _, name := range names {
		for _, f := range followers[name] {
			if f.urls[0] == next.url {
				f.then(last.url)
			}
		}
	}
	if err := next.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// It lets its running jobs finish first, then hands the Lease over.
	waitUntil(t, jobsStopTimeout+testLease, "the last replica leads", func() bool { return last.leads(t) })
	if err := next.cmd.Wait(); err != nil {
		t.Errorf("the replica stopped with SIGTERM: %v; want a clean exit", err)
	}
	live.remove(next)

	s := &server{url: last.url}
	for _, name := range names {
		waitPhase(t, s, tok, name, onramp.PhaseReady, 90*time.Second)
	}
	t.Logf("%d projects ready %s after the burst began", len(names), time.Since(began).Round(100*time.Millisecond))

	admin, err := gitea.NewClient(g.URL, gitea.SetToken(g.Admin.Token), gitea.SetGiteaVersion(""))
	if err != nil {
		t.Fatal(err)
	}
	kc := kubeClient(t)
	for _, name := range names {
		objs := clusterObjects(t, kc, name)
		if len(objs) != 6 {
			t.Errorf("%s: objects of %d kinds in the cluster; want 6", name, len(objs))
		}
		for kind, objs := range objs {
			if len(objs) != 2 {
				t.Errorf("%s: %d %s objects; want one per environment", name, len(objs), kind)
			}
		}
		p, _ := getProject(t, s, tok, name)
		if p.Git != defaultGitName {
			t.Errorf("%s: git connection %q; want %q, the configured provider's", name, p.Git, defaultGitName)
		}
		if len(p.GitOps.Resources) != 12 {
			t.Errorf("%s: %d recorded objects; want 12", name, len(p.GitOps.Resources))
		}
		checkGiteaRepository(t, admin, g.Admin.User, name, p.Repository.Revision)
		if commits, _, err := admin.ListRepoCommits(g.Admin.User, name, gitea.ListCommitOptions{}); err != nil || len(commits) != 1 {
			t.Errorf("%s: %d commits in Gitea, %v; want 1", name, len(commits), err)
		}
	}

	// Status keeps flowing: a commit pushed now reaches the last replica
	// through Gitea's webhook and its watcher sees Flux apply it in
	// development, which follows the branch (production moves by promotion).
	pushed := names[0]
	head := pushToGitea(t, g, pushed, "pushed after the failover\n")
	waitUntil(t, time.Minute, "ready at the commit pushed after the failover", func() bool {
		p, _ := getProject(t, s, tok, pushed)
		ready := p.Phase == onramp.PhaseReady && p.Repository.Revision == head
		for _, r := range p.GitOps.Resources {
			ready = ready && (r.Kind != onramp.KindKustomization || r.Environment != "development" || r.Revision == head)
		}
		return ready
	})

	for _, name := range names {
		p, err := db.ProjectByName(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range followers[name] {
			testutil.Eventually(t, 10*time.Second, name+"'s stream", func() string {
				events, err := db.Events(context.Background(), p.ID, 0, 1000)
				if err != nil {
					return err.Error()
				}
				var want []int64
				for _, e := range events {
					want = append(want, e.ID)
				}
				if got := f.seen(); !slices.Equal(got, want) {
					return fmt.Sprintf("stream %d of %s saw events %v; want %v", i, name, got, want)
				}
				return ""
			})
		}
	}
}

// leading returns the replica whose /metrics says it leads, or nil.
func leading(t *testing.T, replicas []*replica) *replica {
	t.Helper()
	var leaders []*replica
	for _, r := range replicas {
		if r.leads(t) {
			leaders = append(leaders, r)
		}
	}
	if len(leaders) > 1 {
		t.Fatalf("%d replicas lead at once", len(leaders))
	}
	if len(leaders) == 1 {
		return leaders[0]
	}
	return nil
}

// liveReplicas are the replicas a balancer forwards to.
type liveReplicas struct {
	mu   sync.Mutex
	urls []string
}

func (l *liveReplicas) add(r *replica) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls = append(l.urls, r.url)
}

func (l *liveReplicas) remove(r *replica) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls = slices.DeleteFunc(l.urls, func(u string) bool { return u == r.url })
}

// balancer serves an address that forwards each request to the first live
// replica that answers, as a Service in front of them does.
func (l *liveReplicas) balancer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		urls := slices.Clone(l.urls)
		l.mu.Unlock()
		for _, u := range urls {
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, u+r.URL.RequestURI(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				continue
			}
			defer resp.Body.Close()
			maps.Copy(w.Header(), resp.Header)
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		http.Error(w, "no replica answers", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// follower reads a project's event stream from one replica and, when that
// replica ends it, from the next, resuming after the last event it saw.
type follower struct {
	mu   sync.Mutex
	ids  []int64
	urls []string
}

// follow starts a follower of name's events on the replicas at urls.
func follow(t *testing.T, tok, name string, urls ...string) *follower {
	f := &follower{urls: urls}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		var last int64
		for i := 0; ; i++ {
			f.mu.Lock()
			if i >= len(f.urls) {
				f.mu.Unlock()
				return
			}
			url := f.urls[i]
			f.mu.Unlock()
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/projects/"+name+"/events", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				if ctx.Err() == nil {
					t.Errorf("event stream of %s from %s: %v %v", name, url, err, resp)
				}
				return
			}
			for e := range testutil.ReadEvents(ctx, resp.Body) {
				f.mu.Lock()
				f.ids = append(f.ids, e.ID)
				f.mu.Unlock()
				last = e.ID
			}
		}
	}()
	return f
}

// then makes the follower resume on url when the streams it has end.
func (f *follower) then(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, url)
}

// seen is the IDs of the events the follower has read.
func (f *follower) seen() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids)
}
