package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
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
// LISTEN/NOTIFY. Either way its listener also hears this process's inserts
// (wakeListener).
func (db *DB) riverDriver() riverdriver.Driver[*sql.Tx] {
	if db.engine == Postgres {
		return wakeDriver{riverdatabasesql.NewWithPgxListener(db.river, db.pool), &db.inserts}
	}
	return wakeDriver{riversqlite.New(db.db), &db.inserts}
}

// wakeDriver is one of River's drivers whose listener is a wakeListener.
type wakeDriver struct {
	riverdriver.Driver[*sql.Tx]
	inserts *inserts
}

func (d wakeDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &wakeListener{d.Driver.GetListener(params), d.inserts}
}

// fetchCooldown is River's FetchCooldown here: the least time between two
// fetches of a queue, and between two insert notifications of a client.
const fetchCooldown = 5 * time.Millisecond

// inserts tells River's listener in this process about the jobs this
// process inserts. River announces a queue's inserts at most once per
// fetchCooldown (its insert notification limiter), so an insert sooner
// than that after the one before goes unannounced; if the workers fetched
// before it committed, they would not look again until their poll (1 s).
// Jobs River inserts by itself (periodic ones) are not seen here.
type inserts struct {
	mu      sync.Mutex
	last    time.Time     // when a job was last inserted
	unheard bool          // a committed insert River may not have announced
	ch      chan struct{} // closed at the next commit of an insert; nil until asked for
}

// inserting notes a job inserted and reports whether River may not have
// announced it. Called as InsertTx returns, it finds the time since the
// insert before no longer than River found it since its last announcement,
// so it may take an announced insert for an unannounced one (which costs
// the workers one more look), never the reverse; a millisecond's margin
// is on top.
func (s *inserts) inserting() (unannounced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	unannounced = now.Sub(s.last) < fetchCooldown+time.Millisecond
	s.last = now
	return unannounced
}

// committed says that a transaction that inserted jobs has committed.
func (s *inserts) committed(unannounced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unheard = s.unheard || unannounced
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// next returns true, and forgets it, if an insert committed unannounced;
// otherwise a channel closed at the next commit of an insert.
func (s *inserts) next() (<-chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unheard {
		s.unheard = false
		return nil, true
	}
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch, false
}

// wakeListener is River's listener, woken by this process's inserts.
// PostgreSQL's waits for NOTIFY; SQLite's, which has no LISTEN/NOTIFY,
// looks for new notifications in a table every 50 ms. After an insert
// River announced, the listener looks again at once (on SQLite the worker
// starts the job within a few milliseconds instead of 25 on average); for
// one it may not have announced, the listener hands River's workers an
// insert notification of its own. It does no work while nothing is
// inserted.
type wakeListener struct {
	riverdriver.Listener
	inserts *inserts
}

// insertNotification is River's notification of inserts into the queue
// onramp's jobs use.
var insertNotification = riverdriver.Notification{Topic: "river_insert", Payload: fmt.Sprintf(`{"queue": %q}`, river.QueueDefault)}

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
		inserted, unheard := l.inserts.next()
		if unheard {
			n := insertNotification
			return &n, nil
		}
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
			// a look at SQLite's table cut short says context.Canceled too.
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
	// An insert wakes them at once: through River's insert notification
	// (PostgreSQL's LISTEN/NOTIFY, or on SQLite a table River's listener
	// polls every 50 ms, so another process's insert within 50 ms), and for
	// this process's inserts through wakeListener.
	Poll time.Duration
	// Periodic are the jobs the leader enqueues by itself.
	Periodic []*river.PeriodicJob
}

// NewQueue returns a River client on this database and sets it as db.Jobs.
func (db *DB) NewQueue(opts QueueOptions) (*Queue, error) {
	cfg := &river.Config{
		Logger:            opts.Logger,
		FetchCooldown:     fetchCooldown,
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
