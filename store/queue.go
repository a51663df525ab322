package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// JobClient inserts and lists jobs inside a store transaction.
// *river.Client[*sql.Tx] implements it.
type JobClient interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobListTx(ctx context.Context, tx *sql.Tx, params *river.JobListParams) (*river.JobListResult, error)
}

// Queue is the job queue: River on onramp's database, so that a job is
// inserted in the transaction that writes what it works on. Both engines
// go through database/sql so that the application's transactions and
// River's are the same *sql.Tx. On PostgreSQL the queue keeps its books
// (fetching, completing, rescuing jobs) on a pool of its own whose commits
// do not wait for the WAL flush: one lost in a database crash makes a job
// run again, which every job survives. Jobs are inserted in onramp's
// transactions, which do wait.
type Queue struct {
	*river.Client[*sql.Tx]
	books    *sql.DB       // PostgreSQL: River's own pool
	listener *pgxpool.Pool // PostgreSQL: River's LISTEN/NOTIFY

	db       *DB
	logger   *slog.Logger
	stopBeat func() // ends the heartbeat (see workers.go), once started
}

// QueueOptions configure the job queue. Without Workers the queue only
// inserts.
type QueueOptions struct {
	Workers     *river.Workers
	MaxWorkers  int
	RetryPolicy river.ClientRetryPolicy
	Logger      *slog.Logger
	// JobTimeout bounds one attempt of a job (default 5 minutes). A job
	// whose worker died is rescued once it has run this long.
	JobTimeout time.Duration
	// Poll is how often workers look for jobs that no insert notification
	// announced (default 1 s, River's own). River announces an insert
	// through PostgreSQL's LISTEN/NOTIFY, or on SQLite through a table its
	// listener reads every 50 ms, at most once per FetchCooldown per queue.
	Poll time.Duration
	// Periodic are the jobs the leader enqueues by itself.
	Periodic []*river.PeriodicJob
	// SoftStopTimeout is how long Stop lets running jobs finish before it
	// cancels them, to be retried (0: as long as they take).
	SoftStopTimeout time.Duration
}

// fetchCooldown is River's FetchCooldown here: the least time between two
// fetches of a queue, and between two insert notifications of a client.
const fetchCooldown = 5 * time.Millisecond

// OpenQueue returns the job queue on db and sets it as db.Jobs, so that
// the store's transactions insert jobs into it.
func OpenQueue(ctx context.Context, db *DB, opts QueueOptions) (*Queue, error) {
	q := &Queue{db: db, logger: cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))}
	var driver riverdriver.Driver[*sql.Tx]
	if db.engine == Postgres {
		if err := q.openPostgres(ctx, db); err != nil {
			return nil, err
		}
		driver = riverdatabasesql.NewWithPgxListener(q.books, q.listener)
	} else {
		driver = riversqlite.New(db.db)
	}
	cfg := &river.Config{
		Logger:            opts.Logger,
		FetchCooldown:     fetchCooldown,
		FetchPollInterval: cmp.Or(opts.Poll, time.Second),
		MaxAttempts:       10,
		JobTimeout:        cmp.Or(opts.JobTimeout, 5*time.Minute),
		RetryPolicy:       opts.RetryPolicy,
		PeriodicJobs:      opts.Periodic,
		SoftStopTimeout:   opts.SoftStopTimeout,
	}
	cfg.RescueStuckJobsAfter = cfg.JobTimeout
	if opts.Workers != nil {
		cfg.Workers = opts.Workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: max(opts.MaxWorkers, 1)}}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	q.Client = client
	db.Jobs = q
	return q, nil
}

// openPostgres opens the queue's own pools, named so that pg_stat_activity
// tells River's bookkeeping and its listener from onramp's statements.
func (q *Queue) openPostgres(ctx context.Context, db *DB) error {
	books := db.pgConfig("onramp-river")
	books.RuntimeParams["synchronous_commit"] = "off"
	q.books = stdlib.OpenDB(*books)
	q.books.SetMaxOpenConns(10)
	q.books.SetMaxIdleConns(10)
	q.books.SetConnMaxIdleTime(5 * time.Minute)
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return fmt.Errorf("job queue listener: %w", err)
	}
	cfg.ConnConfig = db.pgConfig("onramp-listener")
	if q.listener, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		q.books.Close()
		return fmt.Errorf("job queue listener: %w", err)
	}
	return nil
}

// Start starts the workers and the heartbeat that tells other processes
// this one is alive; while it beats, it also hands back the running jobs of
// processes that stopped beating (see workers.go).
func (q *Queue) Start(ctx context.Context) error {
	if err := q.Client.Start(ctx); err != nil {
		return err
	}
	q.startHeartbeat(context.WithoutCancel(ctx), q.logger)
	return nil
}

// Stop stops the workers, letting running jobs finish until ctx ends, then
// the heartbeat: the jobs still running then are handed back by another
// process within seconds.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.Client.Stop(ctx)
	if q.stopBeat != nil {
		q.stopBeat()
	}
	return err
}

// Close closes the queue's own connections; stop the client first.
func (q *Queue) Close() error {
	var err error
	if q.listener != nil {
		q.listener.Close()
	}
	if q.books != nil {
		err = q.books.Close()
	}
	return errors.Join(err)
}
