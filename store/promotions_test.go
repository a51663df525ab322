package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
)

const (
	revA = "main@sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	revB = "main@sha1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// teamProject stores alice's set-up project whose environments run revA
// and are Ready at it, with bob a deployer, carol a viewer and erin an
// admin; dave has a token and no part in it.
func teamProject(t *testing.T, db *store.DB, name string) *onramp.Project {
	t.Helper()
	ctx := context.Background()
	p := newProject(name)
	for i := range p.Environments {
		p.Environments[i].Policy = onramp.DefaultPolicy(p.Environments[i].Type)
	}
	mustCreate(t, db, p)
	for _, u := range []string{"bob", "carol", "dave", "erin"} {
		if _, err := db.CreateToken(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for user, role := range map[string]onramp.Role{"bob": onramp.RoleDeployer, "carol": onramp.RoleViewer, "erin": onramp.RoleAdmin} {
		if _, err := db.SetMember(ctx, "alice", name, onramp.MemberChange{User: user, Role: role}); err != nil {
			t.Fatalf("add %s: %v", user, err)
		}
	}
	if err := db.ChangePhase(ctx, p.ID, onramp.PhaseInitializing, onramp.PhaseReady); err != nil {
		t.Fatal(err)
	}
	if err := db.SetRepository(ctx, p.ID, onramp.Repository{URL: "http://git/" + name, Branch: "main", Revision: revA, Message: "first"}); err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		readyAt(t, db, p, e.Name, revA)
	}
	return p
}

// readyAt records env's Kustomization Ready at rev, as the watcher would.
func readyAt(t *testing.T, db *store.DB, p *onramp.Project, env, rev string) {
	t.Helper()
	_, err := db.UpsertResources(context.Background(), p.ID, onramp.Resource{Kind: onramp.KindKustomization, Name: p.Name,
		Namespace: onramp.Namespace(p.Name, env), Environment: env, Status: onramp.StatusReady, Revision: rev, ObservedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMemberRoles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := teamProject(t, db, "roles")
		ms, err := db.Members(ctx, "carol", p.Name)
		if err != nil || len(ms) != 4 || ms[0].User != "alice" || !ms[0].Owner || ms[1].User != "bob" || ms[1].Role != onramp.RoleDeployer {
			t.Fatalf("Members = %+v, %v; want alice (owner), bob, carol, erin", ms, err)
		}
		// role × action: what each may do, a non-member sees nothing.
		type action struct {
			name string
			do   func(user string) error
		}
		actions := []action{
			{"see", func(u string) error { _, err := db.FindProject(ctx, u, p.Name); return err }},
			{"list", func(u string) error {
				ps, _, err := db.ListProjects(ctx, u, onramp.ProjectFilter{})
				if err == nil && len(ps) == 0 {
					return onramp.Errorf(onramp.ENOTFOUND, "not listed")
				}
				return err
			}},
			{"history", func(u string) error { _, err := db.Promotions(ctx, u, p.Name, ""); return err }},
			{"events", func(u string) error { _, err := db.ProjectEvents(ctx, u, p.Name, 0, 1); return err }},
			{"git-read", func(u string) error { return accessGit(ctx, db, u, p.Name, false) }},
			{"promote", func(u string) error {
				_, err := db.RequestPromotion(ctx, u, p.Name, onramp.PromotionRequest{Environment: "production", Revision: revA})
				if onramp.ErrorCode(err) == onramp.ECONFLICT { // allowed, and refused for what it asks
					return nil
				}
				return err
			}},
			{"git-write", func(u string) error { return accessGit(ctx, db, u, p.Name, true) }},
			{"add-member", func(u string) error {
				_, err := db.SetMember(ctx, u, p.Name, onramp.MemberChange{User: "dave", Role: onramp.RoleViewer})
				if err == nil {
					err = db.RemoveMember(ctx, u, p.Name, "dave")
				}
				return err
			}},
		}
		allowed := map[string]int{"alice": 8, "erin": 8, "bob": 7, "carol": 5, "dave": 0}
		for user, n := range allowed {
			for i, a := range actions {
				err := a.do(user)
				switch {
				case i < n && err != nil:
					t.Errorf("%s may %s, got %v", user, a.name, err)
				case i >= n && user == "dave" && onramp.ErrorCode(err) != onramp.ENOTFOUND && onramp.ErrorCode(err) != onramp.EUNAUTHORIZED:
					t.Errorf("non-member %s %s: %v; want not found", user, a.name, err)
				case i >= n && user != "dave" && onramp.ErrorCode(err) != onramp.EFORBIDDEN:
					t.Errorf("%s may not %s, got %v; want forbidden", user, a.name, err)
				}
			}
		}
		_, err = db.RequestPromotion(ctx, "carol", p.Name, onramp.PromotionRequest{Environment: "staging"})
		if msg := onramp.ErrorMessage(err); !strings.Contains(msg, "needs the deployer role") || !strings.Contains(msg, "you are a viewer") {
			t.Errorf("a viewer's promotion: %q; want the role it needs and the one they have", msg)
		}
		if _, err := db.SetMember(ctx, "alice", p.Name, onramp.MemberChange{User: "nobody", Role: onramp.RoleViewer}); onramp.ErrorField(err) != "user" {
			t.Errorf("adding an unknown user: %v; want an error on user", err)
		}
		if err := db.RemoveMember(ctx, "erin", p.Name, "alice"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("removing the owner: %v; want conflict", err)
		}
		if err := db.RemoveMember(ctx, "alice", p.Name, "carol"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindProject(ctx, "carol", p.Name); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("a removed member sees the project: %v", err)
		}
	})
}

// accessGit checks the user's Git access with one of their tokens.
func accessGit(ctx context.Context, db *store.DB, user, project string, write bool) error {
	tok, err := db.CreateToken(ctx, user)
	if err != nil {
		return err
	}
	return db.AuthorizeGit(ctx, project, user, tok, write)
}

func TestPromotionRules(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := teamProject(t, db, "rules")
		if _, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "development"}); onramp.ErrorField(err) != "environment" {
			t.Errorf("promoting an auto environment: %v; want refused on environment", err)
		}
		if _, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "staging"}); onramp.ErrorCode(err) != onramp.ECONFLICT ||
			!strings.Contains(onramp.ErrorMessage(err), "already runs aaaaaaa") {
			t.Errorf("promoting what staging runs: %v; want a conflict saying so", err)
		}

		// A push moves development only.
		if err := db.SetRepository(ctx, p.ID, onramp.Repository{URL: "http://git/" + p.Name, Branch: "main", Revision: revB, Message: "second"}); err != nil {
			t.Fatal(err)
		}
		got, _ := db.FindProject(ctx, "alice", p.Name)
		if got.Environments[0].Revision != revB || got.Environments[0].Message != "second" || got.Environments[1].Revision != revA || got.Environments[2].Revision != revA {
			t.Fatalf("after a push: %+v; want development at B, the others at A", got.Environments)
		}
		// Not Ready at B yet: refused with Flux's word, unless an admin forces it.
		_, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "staging"})
		if msg := onramp.ErrorMessage(err); onramp.ErrorCode(err) != onramp.ECONFLICT || !strings.Contains(msg, "development is not Ready at bbbbbbb") {
			t.Errorf("promoting before development is Ready: %v", err)
		}
		if _, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "staging", Force: true}); onramp.ErrorCode(err) != onramp.EFORBIDDEN {
			t.Errorf("a deployer's forced promotion: %v; want forbidden", err)
		}
		forced, err := db.RequestPromotion(ctx, "erin", p.Name, onramp.PromotionRequest{Environment: "staging", Force: true})
		if err != nil || !forced.Forced || forced.Revision != revB || forced.Status != onramp.PromotionApplying {
			t.Fatalf("an admin's forced promotion = %+v, %v", forced, err)
		}
		readyAt(t, db, p, "development", revB)
		pr, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "staging"})
		if err != nil || pr.Revision != revB || pr.From != revA || pr.Status != onramp.PromotionApplying || pr.Needed != 0 {
			t.Fatalf("promotion to staging = %+v, %v; want applying B from A", pr, err)
		}
		if old, _ := db.FindPromotion(ctx, "alice", p.Name, forced.ID); old.Status != onramp.PromotionSuperseded || old.SupersededBy != pr.ID {
			t.Errorf("the forced promotion after a newer one: %+v; want superseded by %d", old, pr.ID)
		}
		if started, err := db.StartPromotion(ctx, pr.ID, "second"); err != nil || started.Message != "second" {
			t.Fatalf("StartPromotion = %+v, %v", started, err)
		}
		got, _ = db.FindProject(ctx, "alice", p.Name)
		if e := got.Environments[1]; e.Revision != revB || e.DeployedBy != "bob" || e.DeployedAt == nil {
			t.Errorf("staging after its promotion started: %+v; want at B, deployed by bob", e)
		}

		// Production waits for staging to be Ready at B, then for one approval by another.
		if _, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "production"}); !strings.Contains(onramp.ErrorMessage(err), "staging is not Ready at bbbbbbb: Kustomization is Ready at aaaaaaa") {
			t.Errorf("promotion from a staging still at A: %v", err)
		}
		readyAt(t, db, p, "staging", revB)
		if ok, err := db.AdvancePromotion(ctx, pr.ID, onramp.PromotionDone, "", ""); err != nil || !ok {
			t.Fatalf("AdvancePromotion = %v, %v", ok, err)
		}
		prod, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "production"})
		if err != nil || prod.Status != onramp.PromotionWaiting || prod.Needed != 1 {
			t.Fatalf("promotion to production = %+v, %v; want waiting for 1 approval", prod, err)
		}
		for user, code := range map[string]string{"bob": onramp.EFORBIDDEN, "carol": onramp.EFORBIDDEN, "dave": onramp.ENOTFOUND} {
			if _, err := db.Approve(ctx, user, p.Name, prod.ID); onramp.ErrorCode(err) != code {
				t.Errorf("%s's approval: %v; want %s", user, err, code)
			}
		}
		approved, err := db.Approve(ctx, "alice", p.Name, prod.ID)
		if err != nil || approved.Status != onramp.PromotionApplying || len(approved.Approvals) != 1 || approved.Approvals[0].User != "alice" {
			t.Fatalf("alice's approval = %+v, %v; want applying, approved by alice", approved, err)
		}
		if _, err := db.Approve(ctx, "erin", p.Name, prod.ID); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("approving an applied promotion: %v; want conflict", err)
		}
		if _, err := db.StartPromotion(ctx, prod.ID, "second"); err != nil {
			t.Fatal(err)
		}
		readyAt(t, db, p, "production", revB)
		if _, err := db.AdvancePromotion(ctx, prod.ID, onramp.PromotionDone, "", ""); err != nil {
			t.Fatal(err)
		}

		// Rollback: the last revision before that production was Ready at.
		rb, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "production", Rollback: true})
		if err != nil || rb.Kind != onramp.KindRollback || rb.Revision != revA || rb.From != revB || rb.Status != onramp.PromotionWaiting {
			t.Fatalf("rollback = %+v, %v; want waiting, to A from B", rb, err)
		}
		if _, err := db.RequestPromotion(ctx, "bob", p.Name, onramp.PromotionRequest{Environment: "production", Rollback: true, Revision: "cccccccc"}); onramp.ErrorField(err) != "revision" {
			t.Errorf("rollback to a revision production never ran: %v", err)
		}
		trail, err := db.Promotions(ctx, "carol", p.Name, "production")
		if err != nil || len(trail) != 2 || trail[0].Kind != onramp.KindRollback || trail[0].Status != onramp.PromotionWaiting ||
			trail[1].Status != onramp.PromotionDone || trail[1].ReadyAt == nil || trail[1].Approvals[0].User != "alice" {
			t.Errorf("production's trail = %+v, %v; want the waiting rollback, then the promotion done with alice's approval", trail, err)
		}
	})
}
