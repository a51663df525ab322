package store

import (
	"context"
	"database/sql"
	"maps"
	"os"
	"sync"
	"testing"
)

// A job's and the watcher's records commit without waiting for the WAL
// flush on PostgreSQL; every other transaction that takes a project's lock
// (a create, a delete or retry request, a phase change) waits for it.
func TestRecordTxCommitsAsynchronously(t *testing.T) {
	ctx := context.Background()
	db, q := testPostgres(t)
	setting := func(txFunc func(context.Context, int64, func(*txn) error) error) string {
		t.Helper()
		var v string
		err := txFunc(ctx, 1, func(tx *txn) error {
			return tx.QueryRowContext(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&v)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := setting(db.recordTx); got != "off" {
		t.Errorf("recordTx: synchronous_commit = %q, want off", got)
	}
	if got := setting(db.projectTx); got != "on" {
		t.Errorf("projectTx: synchronous_commit = %q, want on", got)
	}
	// The setting is the transaction's own: the connection goes back to
	// the pool as it was.
	if got := setting(db.projectTx); got != "on" {
		t.Errorf("projectTx after a recordTx: synchronous_commit = %q, want on", got)
	}
	// River keeps its books on a pool of its own that does not wait; the
	// application's pool, in which jobs are inserted, does.
	for _, pool := range []struct {
		name string
		db   *sql.DB
		want string
	}{{"River's pool", q.books, "off"}, {"onramp's pool", db.db, "on"}} {
		var got string
		if err := pool.db.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != pool.want {
			t.Errorf("%s: synchronous_commit = %q, want %s", pool.name, got, pool.want)
		}
	}
}

// Connections used at once are kept for the next burst rather than closed
// and made again (a new PostgreSQL connection is a new server process), in
// onramp's pool and River's.
func TestPostgresKeepsIdleConnections(t *testing.T) {
	ctx := context.Background()
	db, q := testPostgres(t)
	for name, pool := range map[string]*sql.DB{"onramp's": db.db, "River's": q.books} {
		for range 3 {
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					if _, err := pool.ExecContext(ctx, `SELECT pg_sleep(0.02)`); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		if st := pool.Stats(); st.MaxIdleClosed > 0 || st.OpenConnections < 6 {
			t.Errorf("%s pool after three bursts of 6 queries: %d connections open, %d closed for want of idle room; want 6 kept", name, st.OpenConnections, st.MaxIdleClosed)
		}
	}
}

// TestPostgresPoolsNamed checks that each pool's connections carry their
// name, which pg_stat_activity shows to whoever looks for onramp's load.
func TestPostgresPoolsNamed(t *testing.T) {
	ctx := context.Background()
	db, q := testPostgres(t)
	var listener string
	if err := q.listener.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&listener); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"listener": listener}
	for name, pool := range map[string]*sql.DB{"onramp": db.db, "river": q.books} {
		var app string
		if err := pool.QueryRowContext(ctx, `SELECT current_setting('application_name')`).Scan(&app); err != nil {
			t.Fatal(err)
		}
		got[name] = app
	}
	want := map[string]string{"onramp": "onramp", "river": "onramp-river", "listener": "onramp-listener"}
	if !maps.Equal(got, want) {
		t.Errorf("application_name of each pool = %v; want %v", got, want)
	}
}

// testPostgres opens the database of ONRAMP_TEST_POSTGRES_URL and its job
// queue, closed when the test ends.
func testPostgres(t *testing.T) (*DB, *Queue) {
	t.Helper()
	url := os.Getenv("ONRAMP_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("set ONRAMP_TEST_POSTGRES_URL to run PostgreSQL tests")
	}
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q, err := OpenQueue(context.Background(), db, QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return db, q
}
