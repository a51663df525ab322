package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

// The team's commands against the real API: policies at create, members,
// a promotion that waits for a teammate's approval, and the trail.
func TestPromotionCommands(t *testing.T) {
	url, db, alice := server(t)
	ctx := context.Background()
	bob, err := db.CreateToken(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(url, alice, "project", "create", "shop", "--policy", "staging=promote:1", "--policy", "qa=auto"); code != 2 || !strings.Contains(stderr, "no environment qa") {
		t.Errorf("--policy for an environment not created = %d %q; want a usage error naming it", code, stderr)
	}
	if code, _, stderr := run(url, alice, "project", "create", "shop", "--policy", "staging=promote:1"); code != 0 {
		t.Fatalf("create = %d %s", code, stderr)
	}
	if code, out, stderr := run(url, alice, "project", "member", "add", "shop", "--user", "bob", "--role", "deployer"); code != 0 || !strings.Contains(out, "bob is a deployer of shop") {
		t.Fatalf("member add = %d %q %q", code, out, stderr)
	}
	code, out, _ := run(url, bob, "project", "member", "list", "shop")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "admin (owner)") || !strings.Contains(out, "deployer") {
		t.Errorf("member list = %d\n%s", code, out)
	}
	if code, _, stderr := run(url, bob, "project", "promote", "shop", "--to", "staging"); code != 1 || !strings.Contains(stderr, "initializing") {
		t.Errorf("promote while initializing = %d %q; want 1 saying why", code, stderr)
	}
	if code, _, stderr := run(url, bob, "project", "promote", "shop"); code != 2 || !strings.Contains(stderr, "--to ENV") {
		t.Errorf("promote without --to = %d %q; want a usage error", code, stderr)
	}

	// Set up as the initialization and the watcher would leave it: every
	// environment Ready at a, then development Ready at b.
	p, err := db.FindProject(ctx, "alice", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ChangePhase(ctx, p.ID, onramp.PhaseInitializing, onramp.PhaseReady); err != nil {
		t.Fatal(err)
	}
	a, b := "main@sha1:"+strings.Repeat("a", 40), "main@sha1:"+strings.Repeat("b", 40)
	for _, rev := range []string{a, b} {
		if err := db.SetRepository(ctx, p.ID, onramp.Repository{URL: "http://git/shop", Branch: "main", Revision: rev, Message: "Change " + rev[10:11]}); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Environments {
			if rev == a || e.Name == "development" {
				_, err := db.UpsertResources(ctx, p.ID, onramp.Resource{Kind: onramp.KindKustomization, Name: "shop", Namespace: e.Namespace,
					Environment: e.Name, Status: onramp.StatusReady, Revision: rev, ObservedAt: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	code, out, _ = run(url, alice, "project", "get", "shop")
	for _, want := range []string{"promote, 1 approval", "bbbbbbb", "Change b", "aaaaaaa"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("project get = %d, lacks %q:\n%s", code, want, out)
		}
	}
	code, out, stderr := run(url, alice, "project", "promote", "shop", "--to", "staging")
	if code != 0 || !strings.Contains(out, "promotion 1 of staging to bbbbbbb: waiting-approval") || !strings.Contains(out, "approve shop --promotion 1") {
		t.Fatalf("promote = %d %q %q; want it waiting, saying how to approve", code, out, stderr)
	}
	if code, _, stderr := run(url, alice, "project", "approve", "shop", "--promotion", "1"); code != 1 || !strings.Contains(stderr, "another deployer or admin") {
		t.Errorf("approving one's own = %d %q", code, stderr)
	}
	if code, out, stderr := run(url, bob, "project", "approve", "shop", "--promotion", "1"); code != 0 || !strings.Contains(out, "applying") {
		t.Errorf("bob's approval = %d %q %q; want applying", code, out, stderr)
	}
	code, out, _ = run(url, alice, "project", "history", "shop", "--env", "staging")
	if code != 0 || !strings.Contains(out, "APPROVED BY") || !strings.Contains(out, "promotion") || !strings.Contains(out, "bob") {
		t.Errorf("history --env = %d\n%s", code, out)
	}
	if code, _, stderr := run(url, alice, "project", "rollback", "shop", "--env", "development"); code != 1 || !strings.Contains(stderr, "follows the branch") {
		t.Errorf("rollback of an auto environment = %d %q", code, stderr)
	}
	if code, out, _ := run(url, alice, "project", "member", "remove", "shop", "--user", "bob"); code != 0 || !strings.Contains(out, "no longer") {
		t.Errorf("member remove = %d %q", code, out)
	}
	if code, _, stderr := run(url, bob, "project", "get", "shop"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("a removed member's get = %d %q", code, stderr)
	}
}
