package store_test

import (
	"context"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
)

// A rotated token reaches every connection of that name, provider and
// owner, and no other.
func TestRefreshGitConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		platform := onramp.GitConnectionCreate{Name: "platform", Kind: "gitea", URL: "https://git.acme.dev", Owner: "platform", Token: "old"}
		elsewhere := platform
		elsewhere.URL = "https://git.other.dev"
		for owner, c := range map[string]onramp.GitConnectionCreate{"alice": platform, "bob": platform, "carol": elsewhere} {
			if _, err := db.CreateGitConnection(ctx, owner, c, owner); err != nil {
				t.Fatal(err)
			}
		}
		rotated := platform
		rotated.Token = "new"
		if n, err := db.RefreshGitConnections(ctx, rotated); err != nil || n != 2 {
			t.Errorf("RefreshGitConnections = %d, %v; want 2", n, err)
		}
		for owner, want := range map[string]string{"alice": "new", "bob": "new", "carol": "old"} {
			if got, err := db.GitConnectionToken(ctx, owner, "platform"); err != nil || got != want {
				t.Errorf("%s's token = %q, %v; want %q", owner, got, err, want)
			}
		}
	})
}
