package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations
var migrations embed.FS

// Migrate applies onramp's migrations, then River's, each at most once.
// Processes starting together take turns: on SQLite all of it runs in one
// immediate transaction, which holds the write lock; on PostgreSQL, whose
// River migrations must commit one by one, a session advisory lock is held
// around them.
func (db *DB) Migrate(ctx context.Context) error {
	var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db.db)
	if db.engine == Postgres {
		driver = riverdatabasesql.New(db.db)
	}
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if db.engine == SQLite {
		return db.withTx(ctx, func(tx *txn) error {
			if err := db.migrateOnramp(ctx, tx); err != nil {
				return err
			}
			_, err := migrator.MigrateTx(ctx, tx.Tx, rivermigrate.DirectionUp, nil)
			return wrap("river migrations", err)
		})
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7242001)`); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	defer func() {
		// Closing the connection releases the lock too, should this fail.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7242001)`)
	}()
	if err := db.withTx(ctx, func(tx *txn) error { return db.migrateOnramp(ctx, tx) }); err != nil {
		return err
	}
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return wrap("river migrations", err)
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (db *DB) migrateOnramp(ctx context.Context, tx *txn) error {
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS onramp_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/"+db.engine+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM onramp_migrations WHERE name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO onramp_migrations (name) VALUES (?)`), name); err != nil {
			return err
		}
	}
	return nil
}
