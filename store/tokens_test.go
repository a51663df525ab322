package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
)

// clock sets db's time to a value the test moves.
func clock(db *store.DB) *time.Time {
	now := time.Now().UTC().Truncate(time.Microsecond)
	db.Now = func() time.Time { return now }
	return &now
}

func TestTokenLifecycle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := clock(db)
		start := *now
		ci, err := db.IssueToken(ctx, "alice", onramp.TokenCreate{Name: "ci – deploys", ExpiresIn: onramp.Duration(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Second)
		laptop, err := db.IssueToken(ctx, "alice", onramp.TokenCreate{Name: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateToken(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ci.Secret, "onr_"+ci.ID+"_") || ci.ExpiresAt == nil || !ci.ExpiresAt.Equal(start.Add(time.Hour)) {
			t.Errorf("IssueToken = %+v; want the secret onr_%s_… and an expiry in 1h", ci.Token, ci.ID)
		}
		list, err := db.ListTokens(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != ci.ID || list[0].Name != "ci – deploys" || !list[0].CreatedAt.Equal(start) ||
			list[1].ID != laptop.ID || list[1].ExpiresAt != nil || list[0].LastUsedAt != nil {
			t.Fatalf("ListTokens(alice) = %+v; want ci then laptop, never used", list)
		}

		// Its last use is recorded at most once a minute.
		*now = start
		for _, step := range []time.Duration{0, 30 * time.Second} {
			*now = now.Add(step)
			if u, err := db.Authenticate(ctx, ci.Secret); err != nil || u.Name != "alice" {
				t.Fatalf("Authenticate(ci) = %v, %v; want alice", u, err)
			}
		}
		if got := lastUsed(t, db, "alice", ci.ID); got == nil || !got.Equal(start) {
			t.Errorf("last used 30 s after its first use = %v; want the first use %v", got, start)
		}
		*now = now.Add(time.Minute)
		if _, err := db.Authenticate(ctx, ci.Secret); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(t, db, "alice", ci.ID); got == nil || !got.Equal(*now) {
			t.Errorf("last used after a minute = %v; want %v", got, *now)
		}

		// At its expiry it is refused, but still listed until revoked.
		*now = start.Add(time.Hour)
		if _, err := db.Authenticate(ctx, ci.Secret); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("Authenticate(expired) err = %v; want unauthorized", err)
		}
		if list, _ := db.ListTokens(ctx, "alice"); len(list) != 2 {
			t.Errorf("ListTokens after an expiry = %d tokens; want 2", len(list))
		}

		// Only its owner revokes it, and then it is refused.
		if err := db.RevokeToken(ctx, "bob", laptop.ID); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("RevokeToken(bob, alice's) err = %v; want not found", err)
		}
		for _, id := range []string{"nope", "", "a\x00b", "\xff"} {
			if err := db.RevokeToken(ctx, "alice", id); onramp.ErrorCode(err) != onramp.ENOTFOUND {
				t.Errorf("RevokeToken(%q) err = %v; want not found", id, err)
			}
		}
		if err := db.RevokeToken(ctx, "alice", laptop.ID); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if _, err := db.Authenticate(ctx, laptop.Secret); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("Authenticate(revoked) err = %v; want unauthorized", err)
		}
		if list, _ := db.ListTokens(ctx, "alice"); len(list) != 1 || list[0].ID != ci.ID {
			t.Errorf("ListTokens after revoking laptop = %+v; want ci only", list)
		}
		if err := db.RevokeToken(ctx, "alice", laptop.ID); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("RevokeToken twice err = %v; want not found", err)
		}
	})
}

func lastUsed(t *testing.T, db *store.DB, user, id string) *time.Time {
	t.Helper()
	list, err := db.ListTokens(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range list {
		if tok.ID == id {
			return tok.LastUsedAt
		}
	}
	t.Fatalf("token %s not listed", id)
	return nil
}

func TestIssueTokenRefuses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		tests := []struct {
			name, user string
			create     onramp.TokenCreate
			want       string // the field
		}{
			{"bad user", "Not A Name", onramp.TokenCreate{}, "user"},
			{"long name", "alice", onramp.TokenCreate{Name: strings.Repeat("x", 101)}, "name"},
			{"NUL in name", "alice", onramp.TokenCreate{Name: "a\x00b"}, "name"},
			{"invalid UTF-8", "alice", onramp.TokenCreate{Name: "\xff"}, "name"},
			{"negative expiry", "alice", onramp.TokenCreate{ExpiresIn: -1}, "expires_in"},
			{"expiry under a second", "alice", onramp.TokenCreate{ExpiresIn: onramp.Duration(time.Millisecond)}, "expires_in"},
			{"expiry past ten years", "alice", onramp.TokenCreate{ExpiresIn: onramp.Duration(11 * 365 * 24 * time.Hour)}, "expires_in"},
		}
		for _, tt := range tests {
			_, err := db.IssueToken(context.Background(), tt.user, tt.create)
			if onramp.ErrorCode(err) != onramp.EINVALID || onramp.ErrorField(err) != tt.want {
				t.Errorf("%s: IssueToken err = %v; want invalid %s", tt.name, err, tt.want)
			}
		}
		for range store.MaxTokensPerUser {
			if _, err := db.CreateToken(context.Background(), "many"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.CreateToken(context.Background(), "many"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("token %d of a user: err = %v; want conflict", store.MaxTokensPerUser+1, err)
		}
	})
}

func TestSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := clock(db)
		start := *now
		tok, err := db.IssueToken(ctx, "alice", onramp.TokenCreate{Name: "web", ExpiresIn: onramp.Duration(30 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		s, u, err := db.StartSession(ctx, tok.Secret)
		if err != nil || u.Name != "alice" || !strings.HasPrefix(s, "ons_") || strings.Contains(s, tok.Secret) {
			t.Fatalf("StartSession = %q, %v, %v; want an ons_ session of alice", s, u, err)
		}
		if u, err := db.AuthenticateSession(ctx, s); err != nil || u.Name != "alice" {
			t.Fatalf("AuthenticateSession = %v, %v; want alice", u, err)
		}
		// A session is not a token, nor a token a session.
		if _, err := db.Authenticate(ctx, s); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("Authenticate(session) err = %v; want unauthorized", err)
		}
		if _, err := db.AuthenticateSession(ctx, tok.Secret); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("AuthenticateSession(token) err = %v; want unauthorized", err)
		}
		for _, bad := range []string{"", "ons_x", s + "x", "ons_\x00_x", "ons_\xff_x"} {
			if _, err := db.AuthenticateSession(ctx, bad); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
				t.Errorf("AuthenticateSession(%q) err = %v; want unauthorized", bad, err)
			}
			if err := db.EndSession(ctx, bad); err != nil {
				t.Errorf("EndSession(%q) = %v; want nil", bad, err)
			}
		}

		// Signing out ends it at once.
		if err := db.EndSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AuthenticateSession(ctx, s); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("AuthenticateSession after EndSession err = %v; want unauthorized", err)
		}

		// It expires after SessionLifetime, fixed from sign-in.
		s, _, _ = db.StartSession(ctx, tok.Secret)
		*now = start.Add(store.SessionLifetime - time.Second)
		if _, err := db.AuthenticateSession(ctx, s); err != nil {
			t.Errorf("AuthenticateSession just before its end: %v", err)
		}
		*now = start.Add(store.SessionLifetime)
		if _, err := db.AuthenticateSession(ctx, s); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("AuthenticateSession at its expiry err = %v; want unauthorized", err)
		}

		// Nor does it outlive its token's expiry.
		*now = start.Add(29 * time.Hour)
		s, _, _ = db.StartSession(ctx, tok.Secret)
		*now = start.Add(30 * time.Hour)
		if _, err := db.AuthenticateSession(ctx, s); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("AuthenticateSession at its token's expiry err = %v; want unauthorized", err)
		}

		// Revoking the token ends its sessions.
		*now = start
		s, _, _ = db.StartSession(ctx, tok.Secret)
		if err := db.RevokeToken(ctx, "alice", tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AuthenticateSession(ctx, s); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("AuthenticateSession after its token was revoked err = %v; want unauthorized", err)
		}
		if _, _, err := db.StartSession(ctx, tok.Secret); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
			t.Errorf("StartSession with a revoked token err = %v; want unauthorized", err)
		}
	})
}

// TestSessionsStoredHashed checks that neither a session's secret nor its
// whole ID is in the database.
func TestSessionsStoredHashed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tok, _ := db.CreateToken(ctx, "alice")
		s, _, err := db.StartSession(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		_, secret, _ := strings.Cut(strings.TrimPrefix(s, "ons_"), "_")
		var id string
		var hash []byte
		if err := db.SQL().QueryRow(`SELECT id, hash FROM sessions`).Scan(&id, &hash); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(id, secret) || strings.Contains(string(hash), secret) {
			t.Errorf("the session row (%q, %x) holds its secret in clear", id, hash)
		}
	})
}
