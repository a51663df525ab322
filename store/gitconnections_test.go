package store_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
)

func TestGitConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := onramp.GitConnectionCreate{Name: "acme", Kind: "gitea", URL: "https://git.acme.dev", Owner: "platform", Token: "tok-secret-1234"}
		c, err := db.CreateGitConnection(ctx, "alice", in, "alice-at-acme")
		if err != nil {
			t.Fatal(err)
		}
		want := onramp.GitConnection{Name: "acme", Kind: "gitea", URL: "https://git.acme.dev", Owner: "platform", Login: "alice-at-acme", CreatedAt: c.CreatedAt}
		if *c != want || c.CreatedAt.IsZero() {
			t.Errorf("CreateGitConnection = %+v; want %+v", c, want)
		}
		if _, err := db.CreateGitConnection(ctx, "alice", in, "x"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("CreateGitConnection(acme again) = %v; want conflict", err)
		}
		if _, err := db.CreateGitConnection(ctx, "bob", in, "bob"); err != nil {
			t.Errorf("CreateGitConnection(bob's acme) = %v; want another user's name to be free", err)
		}

		got, err := db.FindGitConnection(ctx, "alice", "acme")
		if err != nil || *got != *c {
			t.Errorf("FindGitConnection(alice, acme) = %+v, %v; want %+v", got, err, c)
		}
		if _, err := db.FindGitConnection(ctx, "carol", "acme"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("FindGitConnection(carol, acme) = %v; want not found", err)
		}
		list, err := db.GitConnections(ctx, "alice")
		if err != nil || len(list) != 1 || *list[0] != *c {
			t.Errorf("GitConnections(alice) = %+v, %v; want [acme]", list, err)
		}
		if tok, err := db.GitConnectionToken(ctx, "alice", "acme"); err != nil || tok != in.Token {
			t.Errorf("GitConnectionToken = %q, %v; want the token", tok, err)
		}

		// The token is stored sealed.
		var raw []byte
		if err := db.SQL().QueryRow(`SELECT token FROM git_connections WHERE login = 'alice-at-acme'`).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(in.Token)) {
			t.Error("the token is stored in clear")
		}

		if err := db.DeleteGitConnection(ctx, "carol", "acme"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("DeleteGitConnection(carol, acme) = %v; want not found", err)
		}
		if err := db.DeleteGitConnection(ctx, "alice", "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindGitConnection(ctx, "alice", "acme"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("FindGitConnection after delete = %v; want not found", err)
		}
		if _, err := db.FindGitConnection(ctx, "bob", "acme"); err != nil {
			t.Errorf("bob's acme after alice's is deleted: %v", err)
		}
	})
}

func TestProjectOnGitConnection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := onramp.GitConnectionCreate{Name: "acme", Kind: "gitea", URL: "https://git.acme.dev", Owner: "platform", Token: "tok-secret-5678"}
		if _, err := db.CreateGitConnection(ctx, "alice", in, "alice"); err != nil {
			t.Fatal(err)
		}
		p := newProject("on-acme")
		p.Git = "other"
		if err := db.CreateProject(ctx, "alice", p); onramp.ErrorField(err) != "git" {
			t.Errorf("CreateProject(git other) = %v; want invalid naming git", err)
		}
		p.Git = "acme"
		if err := db.CreateProject(ctx, "bob", p); onramp.ErrorField(err) != "git" {
			t.Errorf("CreateProject(bob on alice's acme) = %v; want invalid naming git", err)
		}
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindProject(ctx, "alice", "on-acme")
		if err != nil || got.Git != "acme" {
			t.Fatalf("FindProject = %+v, %v; want git acme", got, err)
		}
		c, tok, err := db.ProjectGitConnection(ctx, got.ID)
		if err != nil || c.Name != "acme" || c.URL != in.URL || tok != in.Token {
			t.Errorf("ProjectGitConnection = %+v, %v; want acme and its token", c, err)
		}
		if err := db.DeleteGitConnection(ctx, "alice", "acme"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("DeleteGitConnection(in use) = %v; want conflict", err)
		}
		if err := db.RemoveProject(ctx, got.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteGitConnection(ctx, "alice", "acme"); err != nil {
			t.Errorf("DeleteGitConnection(no longer used) = %v", err)
		}

		plain := newProject("built-in")
		if err := db.CreateProject(ctx, "alice", plain); err != nil {
			t.Fatal(err)
		}
		if got, err := db.FindProject(ctx, "alice", "built-in"); err != nil || got.Git != "" {
			t.Errorf("FindProject(built-in) = %+v, %v; want no git connection", got, err)
		}
		if err := db.SetCredential(ctx, plain.ID, "deploy", "one"); err != nil {
			t.Fatal(err)
		}
		if err := db.SetCredential(ctx, plain.ID, "deploy", "two"); err != nil {
			t.Fatal(err)
		}
		if v, err := db.Credential(ctx, plain.ID, "deploy"); err != nil || v != "two" {
			t.Errorf("Credential after two SetCredential = %q, %v; want two", v, err)
		}
	})
}
