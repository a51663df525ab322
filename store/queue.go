package store

import (
	"cmp"
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

// QueueOptions configure the job queue. Without Workers the client only
// inserts.
type QueueOptions struct {
	Workers     *river.Workers
	MaxWorkers  int
	RetryPolicy river.ClientRetryPolicy
	Logger      *slog.Logger
	// JobTimeout bounds one attempt of a job (default 5 minutes). A job
	// whose worker died is rescued once it has run this long.
	JobTimeout time.Duration
	// Poll is how often workers look for jobs (default 1 s, River's own).
	// An insert wakes them through River's insert notification: at once on
	// PostgreSQL (LISTEN/NOTIFY), within 50 ms on SQLite (a table River's
	// listener polls). A 50 ms poll would halve SQLite's wait for a new job
	// but costs 3% of a core while idle (half a millisecond per poll).
	Poll time.Duration
}

// NewQueue returns a River client on this database and sets it as db.Jobs.
func (db *DB) NewQueue(opts QueueOptions) (*Queue, error) {
	cfg := &river.Config{
		Logger:            opts.Logger,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: cmp.Or(opts.Poll, time.Second),
		MaxAttempts:       10,
		JobTimeout:        cmp.Or(opts.JobTimeout, 5*time.Minute),
		RetryPolicy:       opts.RetryPolicy,
	}
	cfg.RescueStuckJobsAfter = cfg.JobTimeout
	if opts.Workers != nil {
		cfg.Workers = opts.Workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(opts.MaxWorkers, 1)}}
	}
	client, err := river.NewClient(db.riverDriver(), cfg)
	if err != nil {
		return nil, err
	}
	db.Jobs = client
	return client, nil
}
