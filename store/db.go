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
	"github.com/jackc/pgx/v5/stdlib" // also the database/sql driver "pgx"
	"github.com/riverqueue/river"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

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

// DB is onramp's database: the records of projects, users and their
// events. The job queue (Queue) and the wake-ups of event streams
// (Changes) are types of their own.
type DB struct {
	db     *sql.DB
	engine string
	pg     *pgx.ConnConfig // PostgreSQL: how to open more connections

	// Jobs inserts jobs inside the store's transactions. Set by OpenQueue.
	Jobs JobClient
	// Cipher seals credentials; required before credentials are stored.
	Cipher Cipher
	// Now returns the current time; tests may replace it.
	Now func() time.Time

	changes *Changes // fired at the commit of a project's events

	// writeMu queues onramp's own writers on SQLite, which allows one
	// writer at a time: without it, a writer that finds the database
	// locked sleeps in SQLite's busy handler (1, 2, 5, 10 … ms) instead of
	// going next. (River's writes still meet ours in the busy handler.)
	writeMu sync.Mutex
}

// Changed returns a channel that is closed when the project's events are
// next committed, or the project removed (see Changes).
func (db *DB) Changed(projectID int64) <-chan struct{} { return db.changes.Wait(projectID) }

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
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{db: db, engine: SQLite, Now: time.Now, changes: newChanges()}, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redactURL(url), err)
	}
	d := &DB{engine: Postgres, pg: cfg, Now: time.Now, changes: newChanges()}
	db := stdlib.OpenDB(*d.pgConfig("onramp"))
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
	d.db = db
	return d, nil
}

// pgConfig is a copy of the PostgreSQL connection's configuration that
// names itself name in pg_stat_activity, unless the URL names it.
func (db *DB) pgConfig(name string) *pgx.ConnConfig {
	c := db.pg.Copy()
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = name
	}
	return c
}

// Close closes the database.
func (db *DB) Close() error {
	db.changes.close()
	return db.db.Close()
}

// Engine returns SQLite or Postgres.
func (db *DB) Engine() string { return db.engine }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// SQL returns the underlying pool, for tests.
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

// insertJob inserts a job in tx: it is enqueued if and when tx commits.
func (db *DB) insertJob(ctx context.Context, tx *txn, args river.JobArgs) error {
	_, err := db.Jobs.InsertTx(ctx, tx.Tx, args, uniqueJob)
	return err
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
