package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations
var migrations embed.FS

// Migrate applies onramp's migrations, then River's, each at most once.
func (db *DB) Migrate(ctx context.Context) error {
	if err := db.migrateOnramp(ctx); err != nil {
		return err
	}
	migrator, err := rivermigrate.New(db.riverDriver(), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

func (db *DB) migrateOnramp(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS onramp_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/"+db.engine+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		if db.engine == Postgres {
			// Two replicas starting at once apply each migration once.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7242001)`); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT count(*) FROM onramp_migrations WHERE name = ?`), name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO onramp_migrations (name) VALUES (?)`), name)
		return err
	})
}
