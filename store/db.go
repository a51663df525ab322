// Package store keeps onramp's state in SQLite or PostgreSQL, and owns the
// River job queue that runs on the same database, so that a project and its
// jobs are written in one transaction.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib" // also the database/sql driver "pgx"
	"github.com/riverqueue/river"
	"modernc.org/sqlite"

	"github.com/onramp/onramp"
)

// Engines.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Cipher encrypts secrets at rest.
type Cipher interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(ciphertext []byte) ([]byte, error)
}

// DB is onramp's database.
type DB struct {
	db   *sql.DB
	pool *pgxpool.Pool // PostgreSQL only: River's LISTEN/NOTIFY listener
	// river is, on PostgreSQL, the pool River keeps its own books with
	// (fetching, completing, rescuing jobs), whose commits do not wait for
	// the WAL flush: one lost in a database crash makes a job run again,
	// which every job survives. Jobs are inserted in onramp's transactions,
	// which do wait. On SQLite it is db.
	river  *sql.DB
	engine string

	// Jobs inserts jobs inside the store's transactions. Set by main once
	// the queue client exists (see NewQueue).
	Jobs JobClient
	// Cipher seals credentials; required before credentials are stored.
	Cipher Cipher
	// Now returns the current time; tests may replace it.
	Now func() time.Time

	changes changes // fired at the commit of a project's events
	created handoff // projects this process just created, for their jobs
	inserts inserts // this process's job inserts, for River's listener

	// PostgreSQL only: this process's ID in the notifications of its
	// commits, and the listener of the others' (see Listen).
	instance  string
	stop      context.CancelFunc
	listening chan struct{}

	// writeMu queues onramp's own writers on SQLite, which allows one
	// writer at a time: without it, a writer that finds the database
	// locked sleeps in SQLite's busy handler (1, 2, 5, 10 … ms) instead of
	// going next. (River's writes still meet ours in the busy handler.)
	writeMu sync.Mutex
}

// Changed returns a channel that is closed when this process next commits
// an event of the project, or removes it, so that the project's event
// streams wake at once instead of at their next poll; other projects'
// writes leave them asleep. On PostgreSQL, other processes' commits close
// it too, a notification later (see Listen); on SQLite they are not
// signalled.
func (db *DB) Changed(projectID int64) <-chan struct{} { return db.changes.wait(projectID) }

// changes hands out, per project, a channel that is closed at the next
// fire for that project. A channel asked for stays until then, so the map
// holds at most the projects that someone has followed since their last
// event.
type changes struct {
	mu sync.Mutex
	ch map[int64]chan struct{}
}

func (c *changes) wait(id int64) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = map[int64]chan struct{}{}
	}
	ch, ok := c.ch[id]
	if !ok {
		ch = make(chan struct{})
		c.ch[id] = ch
	}
	return ch
}

// fireAll closes every channel handed out.
func (c *changes) fireAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ch := range c.ch {
		close(ch)
		delete(c.ch, id)
	}
}

func (c *changes) fire(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.ch[id]; ok {
		close(ch)
		delete(c.ch, id)
	}
}

// Open connects to url: "sqlite:///path/to/file.db" or "postgres://…".
func Open(ctx context.Context, url string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		return openSQLite(strings.TrimPrefix(url, "sqlite://"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url)
	default:
		return nil, onramp.Errorf(onramp.EINVALID, "database URL %q: use sqlite:///path/to/onramp.db or postgres://user@host/db", redactURL(url))
	}
}

func openSQLite(path string) (*DB, error) {
	if path == "" {
		return nil, onramp.Errorf(onramp.EINVALID, "sqlite URL has no file path: use sqlite:///path/to/onramp.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	connector, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := sql.OpenDB(cachingConnector{connector})
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{db: db, river: db, engine: SQLite, Now: time.Now}, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redactURL(url), err)
	}
	// Each pool names itself, so that pg_stat_activity tells onramp's
	// statements from River's bookkeeping and from its listener.
	named := func(name string) *pgx.ConnConfig {
		c := cfg.Copy()
		if c.RuntimeParams["application_name"] == "" {
			c.RuntimeParams["application_name"] = name
		}
		return c
	}
	db := stdlib.OpenDB(*named("onramp"))
	// Idle connections are kept (database/sql keeps two by default): a
	// new PostgreSQL connection costs a server process and ~5–10 ms, and
	// a job, the API and the event streams each hold one at a time.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w; is it running and does the database exist?", redactURL(url), err)
	}
	riverCfg := named("onramp-river")
	riverCfg.RuntimeParams["synchronous_commit"] = "off"
	river := stdlib.OpenDB(*riverCfg)
	river.SetMaxOpenConns(10)
	river.SetMaxIdleConns(10)
	river.SetConnMaxIdleTime(5 * time.Minute)
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		db.Close()
		river.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redactURL(url), err)
	}
	if poolCfg.ConnConfig.RuntimeParams["application_name"] == "" {
		poolCfg.ConnConfig.RuntimeParams["application_name"] = "onramp-listener"
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		db.Close()
		river.Close()
		return nil, fmt.Errorf("open postgres listener pool: %w", err)
	}
	return &DB{db: db, river: river, pool: pool, engine: Postgres, Now: time.Now, instance: newInstance()}, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.pool != nil {
		if db.stop != nil {
			db.stop()
			<-db.listening
		}
		db.pool.Close()
		db.river.Close()
	}
	return db.db.Close()
}

// Engine returns SQLite or Postgres.
func (db *DB) Engine() string { return db.engine }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// SQL returns the underlying pool, for the queue and for tests.
func (db *DB) SQL() *sql.DB { return db.db }

// q rewrites "?" placeholders for PostgreSQL, so every query is written once.
func (db *DB) q(query string) string {
	if db.engine != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// greatest is the engine's scalar maximum function.
func (db *DB) greatest() string {
	if db.engine == Postgres {
		return "GREATEST"
	}
	return "MAX"
}

func (db *DB) now() int64 { return db.Now().UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func redactURL(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	return url[:scheme+3] + "…" + url[at:]
}

// txn is a transaction and the events it has made, which are written in
// one statement when it commits (appendEvent).
type txn struct {
	*sql.Tx
	events []any // project_id, type, data, at for each event
	// jobs: the transaction inserted a job; unannounced: River may not
	// have announced one of them (see inserts).
	jobs, unannounced bool
	job               int64 // the ID of the last job inserted
}

// withTx runs fn in a transaction, committing when it returns nil.
func (db *DB) withTx(ctx context.Context, fn func(tx *txn) error) error {
	defer db.lockWrites()()
	sqlTx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &txn{Tx: sqlTx}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := db.writeEvents(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for i := 0; i < len(tx.events); i += 4 {
		db.changes.fire(tx.events[i].(int64))
	}
	if tx.jobs {
		db.inserts.committed(tx.unannounced)
	}
	return nil
}

// projectTx runs fn in a transaction that, on PostgreSQL, first takes the
// project's event lock (see appendEvent). Taking it before any row lock
// gives every transaction that touches a project one lock order, so that a
// transaction writing several rows cannot deadlock with the status watcher
// writing one of them.
func (db *DB) projectTx(ctx context.Context, id int64, fn func(tx *txn) error) error {
	return db.withTx(ctx, func(tx *txn) error {
		if err := db.lockProject(ctx, tx, id, false); err != nil {
			return err
		}
		return fn(tx)
	})
}

// recordTx is projectTx for the records a job or the status watcher keeps
// of what it did or saw: steps, progress, log lines, applied objects and
// their status. On PostgreSQL their commit does not wait for the WAL to
// reach the disk (synchronous_commit off for the transaction; a flush
// costs ~1 ms here, and a create commits ~10 records). They are visible at
// once and survive an onramp crash; a crash of the database server itself
// can lose the last fraction of a second of them (the WAL writer flushes
// every 200 ms), which the job, run again, records again. Any synchronous
// commit after them, such as River recording the job's end, flushes them
// too. SQLite's synchronous=NORMAL makes the same trade for every commit.
func (db *DB) recordTx(ctx context.Context, id int64, fn func(tx *txn) error) error {
	return db.withTx(ctx, func(tx *txn) error {
		if err := db.lockProject(ctx, tx, id, true); err != nil {
			return err
		}
		return fn(tx)
	})
}

// insertJob inserts a job in tx; once tx commits, River's listener in
// this process hears of it (see inserts).
func (db *DB) insertJob(ctx context.Context, tx *txn, args river.JobArgs) error {
	res, err := db.Jobs.InsertTx(ctx, tx.Tx, args, uniqueJob)
	if err != nil {
		return err
	}
	tx.jobs, tx.job = true, res.Job.ID
	tx.unannounced = db.inserts.inserting() || tx.unannounced
	return nil
}

// lockWrites takes the turn of a writer on SQLite (see writeMu) and
// returns its release. fn given to withTx must not write outside its tx.
func (db *DB) lockWrites() (unlock func()) {
	if db.engine != SQLite {
		return func() {}
	}
	db.writeMu.Lock()
	return db.writeMu.Unlock
}

// exec runs one write statement outside a transaction.
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	defer db.lockWrites()()
	return db.db.ExecContext(ctx, db.q(query), args...)
}
