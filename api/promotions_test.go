package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/store"
)

// withTeam serves members and promotions from the server's own database.
func withTeam(s *api.Server) { s.Team = s.Projects.(*store.DB) }

// TestPromotionEndpoints checks the members' and promotions' endpoints
// over HTTP: what a role may do, the statuses and error codes each answer
// has, and the policies a project is created with.
func TestPromotionEndpoints(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		e := newEnv(t, engine, withTeam)
		ctx := context.Background()
		body := `{"name":"pipe","template":"web-service","environments":[{"name":"development","type":"development"},
			{"name":"staging","type":"staging","policy":{"approvals":2}},{"name":"production","type":"production","policy":{"rollback_skips_approvals":true}}]}`
		code, answer := e.do(t, "POST", "/api/v1/projects", "application/json", body)
		if code != http.StatusAccepted {
			t.Fatalf("create = %d %s", code, answer)
		}
		var p onramp.Project
		if err := json.Unmarshal([]byte(answer), &p); err != nil {
			t.Fatal(err)
		}
		want := []onramp.Policy{{Mode: onramp.PolicyAuto}, {Mode: onramp.PolicyPromote, Approvals: 2}, {Mode: onramp.PolicyPromote, Approvals: 1, RollbackSkipsApprovals: true}}
		for i, env := range p.Environments {
			if env.Policy != want[i] {
				t.Errorf("%s's policy = %+v; want %+v", env.Name, env.Policy, want[i])
			}
		}
		bad := `{"name":"pipe2","template":"web-service","environments":[{"name":"development","type":"development","policy":{"mode":"auto","approvals":1}}]}`
		if code, answer := e.do(t, "POST", "/api/v1/projects", "application/json", bad); code != 422 || errorBody(t, answer).Error.Field != "environments[0].policy.approvals" {
			t.Errorf("an auto environment with approvals = %d %s; want 422 on environments[0].policy.approvals", code, answer)
		}

		tokens := map[string]string{"alice": e.token}
		for _, u := range []string{"bob", "carol", "dave"} {
			tok, err := e.db.CreateToken(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			tokens[u] = tok
		}
		as := func(user, method, path, body string) (int, string) {
			t.Helper()
			resp := e.send(t, method, path, "application/json", body, tokens[user])
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, string(b)
		}
		for user, role := range map[string]string{"bob": "deployer", "carol": "viewer"} {
			if code, answer := as("alice", "POST", "/api/v1/projects/pipe/members", fmt.Sprintf(`{"user":%q,"role":%q}`, user, role)); code != 200 {
				t.Fatalf("add %s = %d %s", user, code, answer)
			}
		}
		if code, answer := as("alice", "POST", "/api/v1/projects/pipe/members", `{"user":"bob","role":"boss"}`); code != 422 || errorBody(t, answer).Error.Field != "role" {
			t.Errorf("an unknown role = %d %s; want 422 on role", code, answer)
		}
		if code, answer := as("bob", "POST", "/api/v1/projects/pipe/members", `{"user":"dave","role":"viewer"}`); code != 403 ||
			errorBody(t, answer).Error.Code != onramp.EFORBIDDEN || !strings.Contains(answer, "needs the admin role") {
			t.Errorf("a deployer adding a member = %d %s; want 403 naming the admin role", code, answer)
		}
		if code, _ := as("dave", "GET", "/api/v1/projects/pipe/members", ""); code != 404 {
			t.Errorf("a non-member's member list = %d; want 404", code)
		}
		code, answer = as("carol", "GET", "/api/v1/projects/pipe", "")
		if code != 200 || !strings.Contains(answer, `"role":"viewer"`) {
			t.Errorf("a viewer's GET = %d; want 200 with the caller's role: %.300s", code, answer)
		}

		// Environments move once the project is set up.
		if code, answer := as("bob", "POST", "/api/v1/projects/pipe/promotions", `{"environment":"staging"}`); code != 409 || !strings.Contains(answer, "initializing") {
			t.Errorf("promotion while initializing = %d %s; want 409", code, answer)
		}
		stored, err := e.db.FindProject(ctx, "alice", "pipe")
		if err != nil {
			t.Fatal(err)
		}
		setUp(t, e.db, stored)
		if code, answer := as("bob", "POST", "/api/v1/projects/pipe/promotions", `{"environment":"staging","color":"red"}`); code != 422 || errorBody(t, answer).Error.Field != "color" {
			t.Errorf("an unknown field = %d %s; want 422 naming it", code, answer)
		}
		if code, answer := as("carol", "POST", "/api/v1/projects/pipe/promotions", `{"environment":"staging"}`); code != 403 || !strings.Contains(answer, "deployer") {
			t.Errorf("a viewer's promotion = %d %s; want 403 naming the deployer role", code, answer)
		}
		resp := e.send(t, "POST", "/api/v1/projects/pipe/promotions", "application/json", `{"environment":"staging","revision":"bbbbbbb"}`, tokens["bob"])
		var pr onramp.Promotion
		if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 || pr.Status != onramp.PromotionWaiting || pr.Needed != 2 || resp.Header.Get("Location") != fmt.Sprintf("/api/v1/projects/pipe/promotions/%d", pr.ID) {
			t.Fatalf("promotion = %d %+v at %q; want 202 waiting for 2 approvals, with its Location", resp.StatusCode, pr, resp.Header.Get("Location"))
		}
		approve := fmt.Sprintf("/api/v1/projects/pipe/promotions/%d/approve", pr.ID)
		for user, want := range map[string]int{"bob": 403, "carol": 403, "dave": 404, "alice": 200} {
			if code, answer := as(user, "POST", approve, ""); code != want {
				t.Errorf("%s's approval = %d %s; want %d", user, code, answer, want)
			}
		}
		if code, answer := as("alice", "POST", approve, ""); code != 409 || !strings.Contains(answer, "approved promotion") {
			t.Errorf("a second approval by the same user = %d %s; want 409", code, answer)
		}
		if code, _ := as("alice", "POST", "/api/v1/projects/pipe/promotions/x/approve", ""); code != 404 {
			t.Errorf("approve promotion x = %d; want 404", code)
		}
		code, answer = as("carol", "GET", "/api/v1/projects/pipe/promotions?environment=staging", "")
		var list api.PromotionList
		if err := json.Unmarshal([]byte(answer), &list); code != 200 || err != nil || len(list.Promotions) != 1 || len(list.Promotions[0].Approvals) != 1 {
			t.Errorf("staging's trail = %d %s; want one promotion with alice's approval", code, answer)
		}
		// Production's rollbacks skip approvals; with no earlier revision there is nothing to go back to.
		if code, answer := as("bob", "POST", "/api/v1/projects/pipe/rollbacks", `{"environment":"production"}`); code != 409 || !strings.Contains(answer, "nothing to roll back to") {
			t.Errorf("rollback without history = %d %s; want 409", code, answer)
		}
		if code, _ := as("alice", "DELETE", "/api/v1/projects/pipe/members/carol", ""); code != 204 {
			t.Errorf("remove carol = %d; want 204", code)
		}
		if code, _ := as("carol", "GET", "/api/v1/projects/pipe", ""); code != 404 {
			t.Errorf("a removed member's GET = %d; want 404", code)
		}
	})
}

// setUp records the project as the initialization and the watcher would:
// set up at revision a, every environment Ready there, development since
// moved to b and Ready at it.
func setUp(t *testing.T, db *store.DB, p *onramp.Project) {
	t.Helper()
	ctx := context.Background()
	if err := db.ChangePhase(ctx, p.ID, onramp.PhaseInitializing, onramp.PhaseReady); err != nil {
		t.Fatal(err)
	}
	a, b := "main@sha1:"+strings.Repeat("a", 40), "main@sha1:"+strings.Repeat("b", 40)
	for _, rev := range []string{a, b} {
		if err := db.SetRepository(ctx, p.ID, onramp.Repository{URL: "http://git/pipe", Branch: "main", Revision: rev}); err != nil {
			t.Fatal(err)
		}
		for _, env := range p.Environments {
			if rev == b && env.Name != "development" {
				continue
			}
			_, err := db.UpsertResources(ctx, p.ID, onramp.Resource{Kind: onramp.KindKustomization, Name: p.Name, Namespace: env.Namespace,
				Environment: env.Name, Status: onramp.StatusReady, Revision: rev, ObservedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}
