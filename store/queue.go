package store

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// Inserter inserts a job inside a store transaction. *river.Client[*sql.Tx]
// implements it.
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Queue is River on this database. Both engines go through database/sql so
// that the application's transactions and River's are the same *sql.Tx.
type Queue = river.Client[*sql.Tx]

// riverDriver picks River's driver for the engine: its SQLite driver, or its
// database/sql PostgreSQL driver with a pgx listener for LISTEN/NOTIFY.
func (db *DB) riverDriver() riverdriver.Driver[*sql.Tx] {
	if db.engine == Postgres {
		return riverdatabasesql.NewWithPgxListener(db.db, db.pool)
	}
	return riversqlite.New(db.db)
}

// NewQueue returns a River client on this database and sets it as db.Jobs.
// workers may be nil for a client that only inserts.
func (db *DB) NewQueue(workers *river.Workers, maxWorkers int, logger *slog.Logger) (*Queue, error) {
	cfg := &river.Config{
		Logger:            logger,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		MaxAttempts:       10,
		JobTimeout:        10 * time.Minute,
	}
	if workers != nil {
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}}
	}
	client, err := river.NewClient(db.riverDriver(), cfg)
	if err != nil {
		return nil, err
	}
	db.Jobs = client
	return client, nil
}
