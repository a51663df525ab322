package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store/storetest"
)

// server is an onramp started through the real Main.
type server struct {
	app    *App
	url    string
	stdout *testutil.Buffer
	stderr *testutil.Buffer
}

// startMain runs `onramp <cmd> --addr 127.0.0.1:0` with a temp data dir
// and the given database, and stops it when the test ends.
func startMain(t testing.TB, cmd, dbURL string, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := NewMain()
	s := &server{stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}}
	m.Stdout, m.Stderr = s.stdout, s.stderr
	env = withOwnNamespace(t, env)
	m.Getenv = func(k string) string { return env[k] }
	args = append([]string{cmd, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "warn"}, args...)
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	done := make(chan int, 1)
	go func() { done <- m.Run(ctx, args) }()
	select {
	case s.app = <-m.Started():
	case code := <-done:
		t.Fatalf("onramp %s exited with %d: %s", cmd, code, s.stderr.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("onramp %s did not start: %s", cmd, s.stderr.String())
	}
	s.url = s.app.URL
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("onramp stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

func (s *server) token(t testing.TB, user string) string {
	t.Helper()
	tok, err := s.app.DB.CreateToken(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// withOwnNamespace returns env with a fresh onramp namespace when it names
// a cluster and no namespace: onramps of different tests share the
// cluster, and each must lead its own status watcher. Replicas of one
// test share a namespace by setting ONRAMP_NAMESPACE.
func withOwnNamespace(t testing.TB, env map[string]string) map[string]string {
	t.Helper()
	if env["KUBECONFIG"] == "" || env["ONRAMP_NAMESPACE"] != "" {
		return env
	}
	env = maps.Clone(env)
	env["ONRAMP_NAMESPACE"] = clustertest.Namespace(t)
	return env
}

// call sends a request and decodes the JSON answer into out.
func call(t testing.TB, method, url, token string, body any, out any) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode
}

func createBody(name string) map[string]any {
	return map[string]any{"name": name, "template": "web-service",
		"environments": []map[string]string{{"name": "development", "type": "development"}, {"name": "production", "type": "production"}}}
}

// TestLifecycleWithoutCluster runs a project's life through serve with no
// cluster configured: the job renders, commits, then fails at setup_gitops
// with a hint, never 100% and never active; the project deletes; and the
// server says it is not ready. What the API answers whoever asks is api's
// TestProjectsByOwner.
func TestLifecycleWithoutCluster(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := startMain(t, "serve", storetest.URL(t, engine), nil)
			alice := s.token(t, "alice")
			api := s.url + "/api/v1/projects"

			var p onramp.Project
			if code := call(t, "POST", api, alice, createBody("shop"), &p); code != http.StatusAccepted {
				t.Fatalf("create = %d; want 202", code)
			}
			waitFor(t, func() bool {
				call(t, "GET", api+"/shop", alice, nil, &p)
				return p.Phase == onramp.PhaseFailed
			})
			if p.Progress >= 100 || p.Steps[3].Name != "setup_gitops" || p.Steps[3].Status != onramp.StepFailed || !strings.Contains(p.Steps[3].Hint, "KUBECONFIG") {
				t.Errorf("failed project = %d%% steps %+v", p.Progress, p.Steps)
			}
			var logs struct{ Lines []onramp.LogLine }
			if code := call(t, "GET", api+"/shop/logs", alice, nil, &logs); code != 200 || len(logs.Lines) < 3 {
				t.Errorf("logs = %d %+v", code, logs)
			}
			if code := call(t, "DELETE", api+"/shop", alice, nil, &p); code != http.StatusAccepted || p.Phase != onramp.PhaseDeleting {
				t.Errorf("delete = %d phase %s; want 202 deleting", code, p.Phase)
			}
			waitFor(t, func() bool { return call(t, "GET", api+"/shop", alice, nil, nil) == http.StatusNotFound })

			var ready struct {
				Ready  bool
				Checks map[string]string
			}
			call(t, "GET", s.url+"/readyz", "", nil, &ready)
			if ready.Checks["database"] != "ok" || ready.Ready {
				t.Errorf("readyz = %+v; want database ok, not ready without a cluster", ready)
			}
		})
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	testutil.Until(t, 30*time.Second, "condition", cond)
}

// River's info lines (its producers' counts every minute) are dropped;
// its warnings pass, also through groups and attributes.
func TestAtLeastWarn(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(atLeast{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.LevelWarn}).WithGroup("river").With("queue", "default")
	l.Info("producer: Producer job counts")
	l.Warn("job failed")
	if out := buf.String(); strings.Contains(out, "job counts") || !strings.Contains(out, "job failed") || !strings.Contains(out, "river.queue=default") {
		t.Errorf("logged %q; want the warning only, with its group and attributes", out)
	}
}
