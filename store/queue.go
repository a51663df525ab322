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

// JobClient inserts and lists jobs inside a store transaction.
// *river.Client[*sql.Tx] implements it.
type JobClient interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobListTx(ctx context.Context, tx *sql.Tx, params *river.JobListParams) (*river.JobListResult, error)
}

// Queue is River on this database. Both engines go through database/sql so
// that the application's transactions and River's are the same *sql.Tx.
type Queue = river.Client[*sql.Tx]

// riverDriver picks River's driver for the engine: its SQLite driver, or its
// database/sql PostgreSQL driver on db.river with a pgx listener for
// LISTEN/NOTIFY.
func (db *DB) riverDriver() riverdriver.Driver[*sql.Tx] {
	if db.engine == Postgres {
		return riverdatabasesql.NewWithPgxListener(db.river, db.pool)
	}
	return sqliteDriver{riversqlite.New(db.db), &db.enqueued}
}

// sqliteDriver is River's SQLite driver with a listener that this
// process's job inserts wake at once.
type sqliteDriver struct {
	*riversqlite.Driver
	enqueued *signal
}

func (d sqliteDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &wakeListener{d.Driver.GetListener(params), d.enqueued}
}

// wakeListener is River's SQLite listener, which has no LISTEN/NOTIFY to
// wait on: it looks for new notifications in a table every 50 ms. A job
// inserted by this process makes it look at once, so that a worker starts
// the job within a few milliseconds instead of 25 on average. It does no
// work while nothing is inserted.
type wakeListener struct {
	riverdriver.Listener
	enqueued *signal
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (l *wakeListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		inserted := l.enqueued.wait()
		waitCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			select {
			case <-inserted:
				cancel()
			case <-done:
			}
		}()
		n, err := l.Listener.WaitForNotification(waitCtx)
		close(done)
		cancel()
		switch {
		case err == nil:
			return n, nil
		case ctx.Err() != nil:
			// River's notifier cancels the wait to change subscriptions or
			// to ping, and takes any other error for a broken connection;
			// a look at the table cut short says context.Canceled too.
			return nil, ctx.Err()
		case closed(inserted):
			continue // woken by an insert: look again now
		}
		return nil, err
	}
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
	// PostgreSQL (LISTEN/NOTIFY); on SQLite at once for this process's
	// inserts (wakeListener) and within 50 ms for another process's (a
	// table River's listener polls).
	Poll time.Duration
	// Periodic are the jobs the leader enqueues by itself.
	Periodic []*river.PeriodicJob
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
		PeriodicJobs:      opts.Periodic,
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
