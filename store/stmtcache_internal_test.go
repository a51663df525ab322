package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// A SQLite connection keeps one statement per query text, up to its bound,
// and a query run again while rows of it are still open gets a statement of
// its own, so both sets of rows are right.
func TestStatementCache(t *testing.T) {
	db, err := openSQLite(filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3)`); err != nil {
		t.Fatal(err)
	}
	cached := func() (n int) {
		conn.Raw(func(dc any) error {
			n = len(dc.(*cachingConn).stmts)
			return nil
		})
		return n
	}
	const q = `SELECT v FROM t WHERE v >= ? ORDER BY v`
	before := cached()
	for range 10 {
		var v int
		if err := conn.QueryRowContext(ctx, q, 2).Scan(&v); err != nil || v != 2 {
			t.Fatalf("QueryRow = %d, %v; want 2", v, err)
		}
	}
	if got := cached(); got != before+1 {
		t.Errorf("after one query ten times: %d statements kept; want %d", got, before+1)
	}

	rows, err := conn.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`)`, v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		inner, err := conn.QueryContext(ctx, q, v) // the outer query's text, its rows still open
		if err != nil {
			t.Fatal(err)
		}
		var vs []int
		for inner.Next() {
			var w int
			inner.Scan(&w)
			vs = append(vs, w)
		}
		inner.Close()
		got = append(got, fmt.Sprintf("%d:%v/%d", v, vs, n))
		if len(got) > 3 {
			t.Fatalf("the outer query goes on past its 3 rows: %q", got)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if want := []string{"1:[1 2 3]/3", "2:[2 3]/2", "3:[3]/1"}; !slices.Equal(got, want) {
		t.Errorf("nested queries = %q; want %q", got, want)
	}

	for i := range maxCachedStmts + 10 {
		var v int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d = %d, %v", i, v, err)
		}
	}
	if got := cached(); got != maxCachedStmts {
		t.Errorf("after %d distinct queries: %d statements kept; want the bound, %d", maxCachedStmts+10, got, maxCachedStmts)
	}
}
