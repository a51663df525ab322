package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store/storetest"
)

// team is a server with a ready three-environment project of alice's, bob
// a deployer and carol a viewer of it, and dave who is not a member.
type team struct {
	s                       *server
	name                    string
	alice, bob, carol, dave string
	kc                      client.Client
	initial                 string // the revision the initialization pushed
	git                     func(args ...string) string
}

func newTeam(t *testing.T, engine string) *team {
	t.Helper()
	s := startCluster(t, engine)
	tm := &team{s: s, name: uniqueName("promo"), alice: s.token(t, "alice"), bob: s.token(t, "bob"),
		carol: s.token(t, "carol"), dave: s.token(t, "dave"), kc: kubeClient(t)}
	if code := call(t, "POST", s.url+"/api/v1/projects", tm.alice, threeEnvs(tm.name, "web-service"), nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	p := waitPhase(t, s, tm.alice, tm.name, onramp.PhaseReady, 2*time.Minute)
	tm.initial = p.Repository.Revision
	for user, role := range map[string]onramp.Role{"bob": onramp.RoleDeployer, "carol": onramp.RoleViewer} {
		if code := call(t, "POST", s.url+"/api/v1/projects/"+tm.name+"/members", tm.alice, onramp.MemberChange{User: user, Role: role}, nil); code != 200 {
			t.Fatalf("add %s as %s = %d", user, role, code)
		}
	}
	dir := t.TempDir()
	tm.git = gitIn(t, dir)
	tm.git("clone", "-q", strings.Replace(p.Repository.URL, "http://", "http://alice:"+tm.alice+"@", 1), ".")
	return tm
}

// push commits a change to the development overlay's namespace label (or
// breaks the overlay) and returns the new revision.
func (tm *team) push(t *testing.T, message string, breakIt bool) string {
	t.Helper()
	if breakIt {
		tm.git("mv", "deploy/overlays/development", "deploy/overlays/dev")
	} else {
		tm.git("commit", "-q", "--allow-empty", "-m", message)
	}
	if breakIt {
		tm.git("commit", "-qm", message)
	}
	tm.git("push", "-q", "origin", "main")
	return "main@sha1:" + tm.git("rev-parse", "HEAD")
}

// applied is the revision Flux last applied in env, read from the cluster.
func (tm *team) applied(t *testing.T, env string) string {
	t.Helper()
	var k kustomizev1.Kustomization
	if err := tm.kc.Get(context.Background(), client.ObjectKey{Namespace: tm.name + "-" + env, Name: tm.name}, &k); err != nil {
		t.Fatal(err)
	}
	if !fluxReady(&k, k.Status.LastAppliedRevision) {
		return "not ready: " + k.Status.LastAppliedRevision
	}
	return k.Status.LastAppliedRevision
}

func (tm *team) promote(t *testing.T, token string, req onramp.PromotionRequest) (*onramp.Promotion, int, string) {
	t.Helper()
	path := "/promotions"
	if req.Rollback {
		path = "/rollbacks"
	}
	var raw json.RawMessage
	code := call(t, "POST", tm.s.url+"/api/v1/projects/"+tm.name+path, token, req, &raw)
	var p onramp.Promotion
	var e struct{ Error struct{ Message string } }
	if code == 202 {
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
	} else if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return &p, code, e.Error.Message
}

func (tm *team) approve(t *testing.T, token string, id int64) (int, string) {
	t.Helper()
	var e struct{ Error struct{ Message string } }
	code := call(t, "POST", fmt.Sprintf("%s/api/v1/projects/%s/promotions/%d/approve", tm.s.url, tm.name, id), token, nil, &e)
	return code, e.Error.Message
}

// wait waits until the promotion ends and returns it.
func (tm *team) wait(t *testing.T, id int64) *onramp.Promotion {
	t.Helper()
	var p onramp.Promotion
	waitUntil(t, 2*time.Minute, fmt.Sprintf("promotion %d ends", id), func() bool {
		call(t, "GET", fmt.Sprintf("%s/api/v1/projects/%s/promotions/%d", tm.s.url, tm.name, id), tm.alice, nil, &p)
		return p.Status.Final()
	})
	return &p
}

func (tm *team) environment(t *testing.T, env string) onramp.Environment {
	t.Helper()
	p, _ := getProject(t, tm.s, tm.alice, tm.name)
	for _, e := range p.Environments {
		if e.Name == env {
			return e
		}
	}
	t.Fatalf("no environment %s", env)
	return onramp.Environment{}
}

// Each environment runs its own revision: a pushed commit reaches
// development only; promotions move staging, then production after a
// teammate's approval; a broken commit's promotion is refused; production
// rolls back; the audit trail holds every step.
func TestPromotionPipeline(t *testing.T) {
	tm := newTeam(t, storetest.Engines()[0])
	ctx := context.Background()
	var repo sourcev1.GitRepository
	if err := tm.kc.Get(ctx, client.ObjectKey{Namespace: tm.name + "-production", Name: tm.name}, &repo); err != nil {
		t.Fatal(err)
	}
	if got := repo.Spec.Reference.Commit; got != onramp.CommitOf(tm.initial) {
		t.Errorf("production's GitRepository checks out commit %q; want it pinned to %s", got, tm.initial)
	}
	if e := tm.environment(t, "production"); e.Policy.Mode != onramp.PolicyPromote || e.Policy.Approvals != 1 || e.Revision != tm.initial ||
		!strings.HasPrefix(e.Message, "Render template") {
		t.Errorf("production = %+v; want promote with 1 approval, at the initial revision with its message", e)
	}

	// A pushed commit reaches development, and not staging.
	c1 := tm.push(t, "Say hello", false)
	waitUntil(t, time.Minute, "development Ready at the pushed commit", func() bool { return tm.applied(t, "development") == c1 })
	waitUntil(t, 30*time.Second, "the project judged ready again", func() bool {
		p, _ := getProject(t, tm.s, tm.alice, tm.name)
		return p.Phase == onramp.PhaseReady
	})
	if got := tm.applied(t, "staging"); got != tm.initial {
		t.Errorf("staging applied %s after a push; want still %s", got, tm.initial)
	}
	if e := tm.environment(t, "development"); e.Revision != c1 || e.Message != "Say hello" || e.DeployedBy != "" {
		t.Errorf("development = %+v; want at %s with its message, deployed by the push", e, c1)
	}

	// Promote to staging: no approval needed, done when Flux is Ready there.
	if _, code, msg := tm.promote(t, tm.carol, onramp.PromotionRequest{Environment: "staging"}); code != 403 || !strings.Contains(msg, "deployer") {
		t.Errorf("a viewer's promotion = %d %q; want 403 naming the deployer role", code, msg)
	}
	if _, code, _ := tm.promote(t, tm.dave, onramp.PromotionRequest{Environment: "staging"}); code != 404 {
		t.Errorf("a non-member's promotion = %d; want 404", code)
	}
	pr, code, msg := tm.promote(t, tm.alice, onramp.PromotionRequest{Environment: "staging"})
	if code != 202 || pr.Revision != c1 || pr.Status != onramp.PromotionApplying {
		t.Fatalf("promote to staging = %d %q %+v; want 202 applying %s", code, msg, pr, c1)
	}
	if done := tm.wait(t, pr.ID); done.Status != onramp.PromotionDone || done.ReadyAt == nil {
		t.Fatalf("promotion to staging ended %s: %s", done.Status, done.Error)
	}
	if got := tm.applied(t, "staging"); got != c1 {
		t.Errorf("staging applied %s after its promotion; want %s", got, c1)
	}

	// Production waits for an approval from someone other than alice.
	pr, code, msg = tm.promote(t, tm.alice, onramp.PromotionRequest{Environment: "production"})
	if code != 202 || pr.Status != onramp.PromotionWaiting || pr.Needed != 1 {
		t.Fatalf("promote to production = %d %q %+v; want 202 waiting for 1 approval", code, msg, pr)
	}
	if code, msg := tm.approve(t, tm.alice, pr.ID); code != 403 || !strings.Contains(msg, "another") {
		t.Errorf("the requester's approval = %d %q; want 403", code, msg)
	}
	if code, _ := tm.approve(t, tm.carol, pr.ID); code != 403 {
		t.Errorf("a viewer's approval = %d; want 403", code)
	}
	time.Sleep(time.Second) // nothing moves without the approval
	if got := tm.applied(t, "production"); got != tm.initial {
		t.Errorf("production applied %s before the approval; want %s", got, tm.initial)
	}
	if code, msg := tm.approve(t, tm.bob, pr.ID); code != 200 {
		t.Fatalf("bob's approval = %d %q", code, msg)
	}
	if done := tm.wait(t, pr.ID); done.Status != onramp.PromotionDone || len(done.Approvals) != 1 || done.Approvals[0].User != "bob" {
		t.Fatalf("promotion to production = %+v; want done, approved by bob", done)
	}
	if got := tm.applied(t, "production"); got != c1 {
		t.Errorf("production applied %s; want %s", got, c1)
	}
	if e := tm.environment(t, "production"); e.DeployedBy != "alice" || e.Message != "Say hello" || e.Status != onramp.StatusReady {
		t.Errorf("production = %+v; want deployed by alice, Ready, with the commit's message", e)
	}

	// A commit that breaks the build reaches development; promoting it is refused.
	c2 := tm.push(t, "Move the overlay", true)
	waitUntil(t, time.Minute, "development failed on the broken commit", func() bool {
		e := tm.environment(t, "development")
		return e.Revision == c2 && e.Status == onramp.StatusFailed
	})
	if _, code, msg := tm.promote(t, tm.bob, onramp.PromotionRequest{Environment: "staging"}); code != 409 ||
		!strings.Contains(msg, "development is not Ready at "+onramp.ShortRevision(c2)) || !strings.Contains(msg, "Kustomization failed") {
		t.Errorf("promotion of a broken commit = %d %q; want 409 saying development is not Ready at it and why", code, msg)
	}

	// Rollback of production: to the revision before, after an approval.
	rb, code, msg := tm.promote(t, tm.bob, onramp.PromotionRequest{Environment: "production", Rollback: true})
	if code != 202 || rb.Revision != tm.initial || rb.Kind != onramp.KindRollback || rb.Status != onramp.PromotionWaiting {
		t.Fatalf("rollback = %d %q %+v; want 202, waiting, to %s", code, msg, rb, tm.initial)
	}
	if code, msg := tm.approve(t, tm.alice, rb.ID); code != 200 {
		t.Fatalf("alice's approval of the rollback = %d %q", code, msg)
	}
	if done := tm.wait(t, rb.ID); done.Status != onramp.PromotionDone {
		t.Fatalf("rollback ended %s: %s", done.Status, done.Error)
	}
	if got := tm.applied(t, "production"); got != tm.initial {
		t.Errorf("production applied %s after the rollback; want %s", got, tm.initial)
	}

	// Two promotions at once to one environment: one result, the other superseded.
	var wg sync.WaitGroup
	ids := make([]int64, 2)
	for i, tok := range []string{tm.alice, tm.bob} {
		wg.Go(func() {
			p, code, msg := tm.promote(t, tok, onramp.PromotionRequest{Environment: "production", Revision: onramp.ShortRevision(c1)})
			if code != 202 {
				t.Errorf("concurrent promotion = %d %q", code, msg)
			}
			ids[i] = p.ID
		})
	}
	wg.Wait()
	first, second := min(ids[0], ids[1]), max(ids[0], ids[1])
	if p := tm.wait(t, first); p.Status != onramp.PromotionSuperseded || p.SupersededBy != second {
		t.Errorf("the older of two promotions = %s by %d; want superseded by %d", p.Status, p.SupersededBy, second)
	}
	var p onramp.Promotion
	call(t, "GET", fmt.Sprintf("%s/api/v1/projects/%s/promotions/%d", tm.s.url, tm.name, second), tm.alice, nil, &p)
	if p.Status != onramp.PromotionWaiting {
		t.Errorf("the newer promotion is %s; want waiting for approval", p.Status)
	}

	// The audit trail holds every step, newest first.
	var trail struct{ Promotions []onramp.Promotion }
	if code := call(t, "GET", tm.s.url+"/api/v1/projects/"+tm.name+"/promotions?environment=production", tm.carol, nil, &trail); code != 200 {
		t.Fatalf("history as a viewer = %d", code)
	}
	var got []string
	for _, p := range trail.Promotions {
		got = append(got, fmt.Sprintf("%s %s %s by %s approvals %d", p.Kind, onramp.ShortRevision(p.Revision), p.Status, p.RequestedBy, len(p.Approvals)))
	}
	want := []string{
		"promotion " + onramp.ShortRevision(c1) + " waiting-approval by ",
		"promotion " + onramp.ShortRevision(c1) + " superseded by ",
		"rollback " + onramp.ShortRevision(tm.initial) + " done by bob approvals 1",
		"promotion " + onramp.ShortRevision(c1) + " done by alice approvals 1",
	}
	if len(got) != len(want) {
		t.Fatalf("production's trail = %q; want %d entries", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("trail[%d] = %q; want %q…", i, got[i], want[i])
		}
	}
	if trail.Promotions[3].From != tm.initial || trail.Promotions[3].ReadyAt == nil {
		t.Errorf("the promotion's record = %+v; want from %s, with when it became Ready", trail.Promotions[3], tm.initial)
	}
}

// A worker killed once a promotion's objects are applied is followed by
// another that finishes it: done, Ready at the revision in the cluster,
// one of each object.
func TestPromotionSurvivesCrash(t *testing.T) {
	url, dataDir, addr := storetest.URL(t, "sqlite"), t.TempDir(), freeAddr(t)
	db := storetest.OpenURL(t, url)
	ctx := context.Background()
	env := []string{"KUBECONFIG=" + clusterKubeconfig(t)}
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--database-url", url, "--log-level", "info"}
	crashing := subprocess(t, append(env, "ONRAMP_CRASH_AT=promote:applied"), args...)
	if err := crashing.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{url: serverURL(t, crashing)}
	tok, err := db.CreateToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	name := uniqueName("promocrash")
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	p := waitPhase(t, s, tok, name, onramp.PhaseReady, 2*time.Minute)
	git := gitIn(t, t.TempDir())
	git("clone", "-q", strings.Replace(p.Repository.URL, "http://", "http://alice:"+tok+"@", 1), ".")
	git("commit", "-q", "--allow-empty", "-m", "Change something")
	git("push", "-q", "origin", "main")
	c1 := "main@sha1:" + git("rev-parse", "HEAD")
	kc := kubeClient(t)
	tm := &team{s: s, name: name, alice: tok, kc: kc}
	waitUntil(t, time.Minute, "development Ready at the pushed commit", func() bool { return tm.applied(t, "development") == c1 })
	waitUntil(t, 30*time.Second, "the project judged ready at it", func() bool {
		e := tm.environment(t, "development")
		return e.Status == onramp.StatusReady && e.Revision == c1
	})
	pr, code, msg := tm.promote(t, tok, onramp.PromotionRequest{Environment: "staging"})
	if code != 202 {
		t.Fatalf("promote = %d %q", code, msg)
	}
	if err := crashing.Wait(); !killed(err) {
		t.Fatalf("onramp with the crash point: %v; want killed by SIGKILL", err)
	}
	survivor := subprocess(t, env, args...)
	if err := survivor.Start(); err != nil {
		t.Fatal(err)
	}
	serverURL(t, survivor)
	if done := tm.wait(t, pr.ID); done.Status != onramp.PromotionDone {
		t.Fatalf("promotion after the crash ended %s: %s", done.Status, done.Error)
	}
	if got := tm.applied(t, "staging"); got != c1 {
		t.Errorf("staging applied %s; want %s", got, c1)
	}
	for kind, objs := range clusterObjects(t, kc, name) {
		if len(objs) != 3 {
			t.Errorf("%d %s objects; want 3", len(objs), kind)
		}
	}
}
