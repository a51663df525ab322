package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/secrets"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

func TestTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tok, err := db.CreateToken(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		u, err := db.Authenticate(ctx, tok)
		if err != nil || u.Name != "alice" {
			t.Fatalf("Authenticate = %v, %v; want alice", u, err)
		}
		// Bad bytes are refused as invalid tokens, not as PostgreSQL's
		// "invalid byte sequence" (SQLSTATE 22021).
		id, _, _ := strings.Cut(strings.TrimPrefix(tok, "onr_"), "_")
		for _, bad := range []string{"", "x", tok + "x", tok[:len(tok)-1], "onr_nope_nope",
			"onr_\x00_x", "onr_" + id + "\x00_x", "onr_\xff\xfe_x", "onr_" + id + "_\xc3\x28", tok + "\x00"} {
			if _, err := db.Authenticate(ctx, bad); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
				t.Errorf("Authenticate(%q) err = %v; want unauthorized", bad, err)
			}
		}
		var stored int
		db.SQL().QueryRow(`SELECT count(*) FROM tokens`).Scan(&stored)
		var leaked int
		db.SQL().QueryRow(`SELECT count(*) FROM tokens WHERE hash = ?`, tok).Scan(&leaked)
		if stored != 1 || leaked != 0 {
			t.Errorf("tokens stored %d, in clear %d", stored, leaked)
		}
		if _, err := db.CreateToken(ctx, "Not A Name"); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("CreateToken(bad) err = %v; want invalid", err)
		}
	})
}

func TestCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("cred")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		v1, err := db.EnsureCredential(ctx, p.ID, "git-read", func() string { return "s3cret-one" })
		if err != nil {
			t.Fatal(err)
		}
		v2, _ := db.EnsureCredential(ctx, p.ID, "git-read", func() string { return "other" })
		if v1 != "s3cret-one" || v2 != v1 {
			t.Errorf("EnsureCredential = %q then %q; want the first value kept", v1, v2)
		}
		var raw []byte
		db.SQL().QueryRow(`SELECT ciphertext FROM credentials`).Scan(&raw)
		if len(raw) == 0 || string(raw) == v1 {
			t.Errorf("credential stored in clear or not at all: %q", raw)
		}
	})
}

// A process whose secret key differs from the one the database's
// credentials are sealed with is refused before it seals anything.
func TestCheckKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for range 2 { // the first records the key, the second finds it
			if err := db.CheckKey(ctx); err != nil {
				t.Fatalf("CheckKey with the database's key: %v", err)
			}
		}
		other := make([]byte, 32)
		other[0] = 1
		box, err := secrets.New(other)
		if err != nil {
			t.Fatal(err)
		}
		db.Cipher = box
		if err := db.CheckKey(ctx); onramp.ErrorCode(err) != onramp.EINVALID || !strings.Contains(onramp.ErrorMessage(err), "ONRAMP_SECRET_KEY") {
			t.Errorf("CheckKey with another key = %v; want invalid, naming ONRAMP_SECRET_KEY", err)
		}
	})
}

// TestAuthorizeGitHidesExistence checks that a caller without valid
// credentials learns nothing of which projects exist, and that a signed-in
// caller sees other owners' projects as missing.
func TestAuthorizeGitHidesExistence(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject(storetest.Name("hidden"))
		mustCreate(t, db, p)
		alice, _ := db.CreateToken(ctx, "alice")
		bob, _ := db.CreateToken(ctx, "bob")
		missing := storetest.Name("missing")
		tests := []struct {
			name, user, password string
			write                bool
			want                 string
		}{
			{name: "no password", user: "x", want: onramp.EUNAUTHORIZED},
			{name: "wrong token", user: "x", password: "onr_nope_nope", want: onramp.EUNAUTHORIZED},
			{name: "wrong read credential", user: onramp.GitReadUser, password: "nope", want: onramp.EUNAUTHORIZED},
			{name: "token as read user", user: onramp.GitReadUser, password: alice, want: onramp.EUNAUTHORIZED},
			{name: "another owner", user: "bob", password: bob, want: onramp.ENOTFOUND},
			{name: "another owner pushes", user: "bob", password: bob, write: true, want: onramp.ENOTFOUND},
		}
		for _, tt := range tests {
			for _, project := range []string{p.Name, missing} {
				err := db.AuthorizeGit(ctx, project, tt.user, tt.password, tt.write)
				if got := onramp.ErrorCode(err); got != tt.want {
					t.Errorf("%s: AuthorizeGit(%s) = %v; want %s", tt.name, project, err, tt.want)
				}
			}
		}
		if err := db.AuthorizeGit(ctx, p.Name, "any", alice, true); err != nil {
			t.Errorf("owner: AuthorizeGit = %v; want nil", err)
		}
		if err := db.AuthorizeGit(ctx, missing, "any", alice, false); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("owner, missing project: AuthorizeGit = %v; want not_found", err)
		}
	})
}
