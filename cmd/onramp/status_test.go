package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/store/storetest"
)

// readyProject creates a one-environment project and waits until Flux
// reports it ready.
func readyProject(t *testing.T, s *server, tok string) string {
	t.Helper()
	name := uniqueName("live")
	body := map[string]any{"name": name, "template": "web-service", "environments": []map[string]string{{"name": "development", "type": "development"}}}
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, body, nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	waitPhase(t, s, tok, name, onramp.PhaseReady, 2*time.Minute)
	return name
}

func waitPhase(t *testing.T, s *server, tok, name string, want onramp.Phase, timeout time.Duration) *onramp.Project {
	t.Helper()
	var p *onramp.Project
	defer func() {
		if t.Failed() && p != nil {
			b, _ := json.MarshalIndent(p, "", "  ")
			t.Logf("project %s when waiting for %s:\n%s\nlog:\n%s", name, want, b, logText(t, s, tok, name))
		}
	}()
	waitUntil(t, timeout, "phase "+string(want), func() bool {
		p, _ = getProject(t, s, tok, name)
		if p.Phase == onramp.PhaseFailed && want != onramp.PhaseFailed {
			t.Fatalf("project failed: %+v", p.Steps)
		}
		return p.Phase == want
	})
	return p
}

func resourceOf(p *onramp.Project, kind string) onramp.Resource {
	for _, r := range p.GitOps.Resources {
		if r.Kind == kind {
			return r
		}
	}
	return onramp.Resource{}
}

// requestReconcile asks Flux to reconcile an object now.
func requestReconcile(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	patch := []byte(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
	if err := c.Patch(context.Background(), obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatalf("request reconcile: %v", err)
	}
}

func TestDegradedPathThenRepair(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	kc := kubeClient(t)
	name := readyProject(t, s, tok)
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name}}
	patch := []byte(`{"spec":{"path":"./deploy/overlays/moved"},"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
	if err := kc.Patch(context.Background(), ks, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	p := waitPhase(t, s, tok, name, onramp.PhaseDegraded, time.Minute)
	r := resourceOf(p, onramp.KindKustomization)
	if r.Status != onramp.StatusFailed || r.Reason != "ArtifactFailed" || !strings.Contains(r.Message, "kustomization path not found") {
		t.Errorf("Kustomization = %+v; want failed ArtifactFailed path not found", r)
	}
	for _, want := range []string{"./deploy/overlays/moved does not exist", "./deploy/overlays/development", "onramp project retry " + name} {
		if !strings.Contains(r.Hint, want) {
			t.Errorf("hint %q does not contain %q", r.Hint, want)
		}
	}
	if code := call(t, "POST", s.url+"/api/v1/projects/"+name+"/retry", tok, nil, nil); code != 202 {
		t.Fatalf("retry = %d", code)
	}
	waitPhase(t, s, tok, name, onramp.PhaseReady, time.Minute)
	var h struct{ Transitions []onramp.StatusTransition }
	call(t, "GET", s.url+"/api/v1/projects/"+name+"/history", tok, nil, &h)
	var seq []string
	for _, tr := range h.Transitions {
		if tr.Kind == onramp.KindKustomization {
			seq = append(seq, string(tr.To))
		}
	}
	if !subsequence(seq, "ready", "failed", "ready") || seq[len(seq)-1] != "ready" {
		t.Errorf("Kustomization history = %v; want ready, then failed, then ready, in order", seq)
	}

	// Deleted by hand, a kind with a status and one whose status is its
	// existence (the Git credentials): missing, degraded; retry re-creates it.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name + "-git"}}
	for kind, obj := range map[string]client.Object{onramp.KindKustomization: ks, onramp.KindSecret: secret} {
		if err := kc.Delete(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		p = waitPhase(t, s, tok, name, onramp.PhaseDegraded, time.Minute)
		if r := resourceOf(p, kind); r.Status != onramp.StatusMissing || !strings.Contains(r.Hint, "deleted outside onramp") {
			t.Errorf("after the %s's manual delete: %+v; want missing with a hint", kind, r)
		}
		if code := call(t, "POST", s.url+"/api/v1/projects/"+name+"/retry", tok, nil, nil); code != 202 {
			t.Fatalf("retry = %d", code)
		}
		p = waitPhase(t, s, tok, name, onramp.PhaseReady, time.Minute)
		if r := resourceOf(p, kind); r.Status != onramp.StatusReady {
			t.Errorf("%s after retry: %+v; want ready", kind, r)
		}
	}
}

func TestWrongCredentialsHint(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	kc := kubeClient(t)
	name := readyProject(t, s, tok)
	ns := name + "-development"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-git"}}
	if err := kc.Patch(context.Background(), secret, client.RawPatch("application/merge-patch+json", []byte(`{"stringData":{"password":"wrong"}}`))); err != nil {
		t.Fatal(err)
	}
	requestReconcile(t, kc, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
	p := waitPhase(t, s, tok, name, onramp.PhaseDegraded, time.Minute)
	r := resourceOf(p, onramp.KindGitRepository)
	if r.Status != onramp.StatusFailed || r.Reason != "GitOperationFailed" || !strings.Contains(r.Hint, ns+"/"+name+"-git") || !strings.Contains(r.Hint, "still holds") {
		t.Errorf("GitRepository = %+v; want failed with the authentication hint", r)
	}
	if code := call(t, "POST", s.url+"/api/v1/projects/"+name+"/retry", tok, nil, nil); code != 202 {
		t.Fatalf("retry = %d", code)
	}
	waitPhase(t, s, tok, name, onramp.PhaseReady, time.Minute)
}

// openStream connects to a project's event stream and sends its events on
// the returned channel until the test ends.
func openStream(t *testing.T, s *server, tok, name string, lastID int64) (<-chan testutil.Event, int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/api/v1/projects/"+name+"/events", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if lastID >= 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	return testutil.ReadEvents(ctx, resp.Body), 200
}

func TestEventStream(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok, other := s.token(t, "alice"), s.token(t, "bob")
	name := uniqueName("sse")
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	if _, code := openStream(t, s, "", name, -1); code != 401 {
		t.Errorf("stream without token = %d; want 401", code)
	}
	if _, code := openStream(t, s, other, name, -1); code != 404 {
		t.Errorf("stream of another owner = %d; want 404", code)
	}
	// Connect mid-initialization.
	waitUntil(t, 30*time.Second, "initialization started", func() bool { p, _ := getProject(t, s, tok, name); return p.Progress > 0 })
	ch, _ := openStream(t, s, tok, name, -1)
	first := <-ch
	if first.Type != onramp.EventSnapshot {
		t.Fatalf("first event %q; want snapshot", first.Type)
	}
	var snap onramp.Project
	json.Unmarshal([]byte(first.Data), &snap)
	if snap.Name != name || snap.Progress == 0 {
		t.Errorf("snapshot = %s at %d%%", snap.Name, snap.Progress)
	}
	var got []testutil.Event
	progress := snap.Progress
	var resumeAt int64
	for e := range ch {
		got = append(got, e)
		if e.Type == onramp.EventProgress {
			var d struct{ Progress int }
			json.Unmarshal([]byte(e.Data), &d)
			if d.Progress < progress {
				t.Errorf("progress event %d after %d", d.Progress, progress)
			}
			progress = d.Progress
		}
		if len(got) == 3 {
			resumeAt = e.ID
		}
		if e.Type == onramp.EventPhase && strings.Contains(e.Data, `"ready"`) {
			break
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i].ID <= got[i-1].ID {
			t.Fatalf("event %d has id %d after %d: out of order or repeated", i, got[i].ID, got[i-1].ID)
		}
	}
	if got[0].ID <= first.ID || progress != 100 {
		t.Errorf("first event id %d after snapshot %d; final progress %d", got[0].ID, first.ID, progress)
	}
	// Reconnecting with Last-Event-ID replays exactly what followed.
	ch2, _ := openStream(t, s, tok, name, resumeAt)
	for i := 3; i < len(got); i++ {
		select {
		case e := <-ch2:
			if e.ID != got[i].ID || e.Type != got[i].Type {
				t.Fatalf("resumed event %d = %d %s; want %d %s", i, e.ID, e.Type, got[i].ID, got[i].Type)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("resumed stream stopped after %d events", i-3)
		}
	}
}

// Restarting onramp while statuses change loses and duplicates nothing.
func TestRestartKeepsHistory(t *testing.T) {
	url := storetest.URL(t, storetest.Engines()[0])
	env := []string{"KUBECONFIG=" + clusterKubeconfig(t)}
	dataDir := t.TempDir()
	// One address for every run: Flux keeps cloning from the same URL.
	args := []string{"serve", "--addr", freeAddr(t), "--data-dir", dataDir, "--database-url", url, "--log-level", "warn"}
	first := subprocess(t, env, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	db := storetest.OpenURL(t, url)
	tok, _ := db.CreateToken(context.Background(), "alice")
	srv := &server{url: serverURL(t, first)}
	name := readyProject(t, srv, tok)
	first.Process.Kill() // abrupt: the watcher dies mid-flight
	first.Wait()

	kc := kubeClient(t)
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name}}
	patch := []byte(`{"spec":{"path":"./nowhere"},"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`)
	if err := kc.Patch(context.Background(), ks, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		t.Fatal(err)
	}
	// And one object deleted while nobody watched.
	if err := kc.Delete(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: name + "-development", Name: name + "-flux"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // Flux reports the failure while onramp is down
	second := subprocess(t, env, args...)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	srv.url = serverURL(t, second)
	p := waitPhase(t, srv, tok, name, onramp.PhaseDegraded, time.Minute)
	// The watcher's resync, once its informers have listed everything,
	// finds what was deleted while nobody watched.
	waitUntil(t, 30*time.Second, "the ServiceAccount deleted while onramp was down recorded missing", func() bool {
		p, _ = getProject(t, srv, tok, name)
		return resourceOf(p, onramp.KindServiceAccount).Status == onramp.StatusMissing
	})
	second.Process.Signal(interruptSignal)
	second.Wait()
	third := subprocess(t, env, args...)
	third.Start()
	srv.url = serverURL(t, third)
	time.Sleep(2 * time.Second) // the watcher's initial list re-delivers everything
	var h struct{ Transitions []onramp.StatusTransition }
	call(t, "GET", srv.url+"/api/v1/projects/"+name+"/history", tok, nil, &h)
	var seq []string
	failed := 0
	for _, tr := range h.Transitions {
		if tr.Kind != onramp.KindKustomization {
			continue
		}
		seq = append(seq, string(tr.From)+"→"+string(tr.To))
		if tr.To == onramp.StatusFailed {
			failed++
		}
		if tr.From == tr.To {
			t.Errorf("transition %s→%s records no change", tr.From, tr.To)
		}
	}
	if failed != 1 || !strings.HasSuffix(seq[len(seq)-1], "→failed") {
		t.Errorf("Kustomization transitions = %v; want exactly one into failed, last (phase %s)", seq, p.Phase)
	}
}

// subsequence reports whether want appears in seq in order.
func subsequence(seq []string, want ...string) bool {
	for _, s := range seq {
		if len(want) > 0 && s == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

// waitStreamPhase reads events until a phase event says phase; it fails
// the test if the stream ends or timeout passes first.
func waitStreamPhase(t *testing.T, events <-chan testutil.Event, phase onramp.Phase, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before phase %s", phase)
			}
			if e.Type == onramp.EventPhase && strings.Contains(e.Data, `"`+string(phase)+`"`) {
				return
			}
		case <-deadline:
			t.Fatalf("no phase %s on the stream within %s", phase, timeout)
		}
	}
}
