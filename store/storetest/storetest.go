// Package storetest opens real, migrated onramp databases for tests: a
// SQLite file in a temporary directory, and PostgreSQL in a fresh schema
// when ONRAMP_TEST_POSTGRES_URL is set.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onramp/onramp/secrets"
	"github.com/onramp/onramp/store"
)

// Engines returns the engines to test: SQLite always, PostgreSQL when
// ONRAMP_TEST_POSTGRES_URL is set.
func Engines() []string {
	if os.Getenv("ONRAMP_TEST_POSTGRES_URL") != "" {
		return []string{store.SQLite, store.Postgres}
	}
	return []string{store.SQLite}
}

// URL returns a database URL for a fresh, empty database of engine.
func URL(t testing.TB, engine string) string {
	t.Helper()
	if engine == store.SQLite {
		return "sqlite://" + filepath.Join(t.TempDir(), "onramp.db")
	}
	base := os.Getenv("ONRAMP_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set ONRAMP_TEST_POSTGRES_URL to run PostgreSQL tests")
	}
	schema := "t_" + randomHex(6)
	db, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer db.Close()
	if _, err := db.SQL().Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := store.Open(context.Background(), base)
		if err == nil {
			if _, err := db.SQL().Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// Open returns a migrated database of engine with an insert-only job queue
// and a cipher, closed when the test ends.
func Open(t testing.TB, engine string) *store.DB {
	t.Helper()
	return OpenURL(t, URL(t, engine))
}

// OpenURL is Open for a given URL.
func OpenURL(t testing.TB, url string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	box, err := secrets.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	db.Cipher = box
	q, err := store.OpenQueue(ctx, db, store.QueueOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return db
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Name returns a unique project name for a test.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%s", prefix, randomHex(3))
}
