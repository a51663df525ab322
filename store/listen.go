package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Changes wakes a project's event streams when its events are committed:
// by this process at once (the store fires it at each commit), and on
// PostgreSQL by the other processes sharing the database, a notification
// later (Listen). On SQLite other processes' commits are not signalled;
// the streams find them at their next poll.
type Changes struct {
	mu sync.Mutex
	ch map[int64]chan struct{}
	// instance tells this process's notifications from the others'.
	instance string

	stop      context.CancelFunc
	listening chan struct{}
}

func newChanges() *Changes {
	b := make([]byte, 8)
	rand.Read(b)
	return &Changes{ch: map[int64]chan struct{}{}, instance: hex.EncodeToString(b)}
}

// Wait returns a channel that is closed when the project's events are next
// committed, or the project removed. A channel asked for stays until then,
// so the map holds at most the projects that someone has followed since
// their last event.
func (c *Changes) Wait(projectID int64) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.ch[projectID]
	if !ok {
		ch = make(chan struct{})
		c.ch[projectID] = ch
	}
	return ch
}

func (c *Changes) fire(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.ch[id]; ok {
		close(ch)
		delete(c.ch, id)
	}
}

// fireAll closes every channel handed out.
func (c *Changes) fireAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, ch := range c.ch {
		close(ch)
		delete(c.ch, id)
	}
}

// eventsChannel is the PostgreSQL notification channel on which every
// onramp process announces the projects whose events it committed. The
// payload is the sender's instance ID and the project IDs:
// "<instance> <id>,<id>…".
const eventsChannel = "onramp_events"

// withNotify makes a statement that writes a project's rows (RETURNING
// project_id) announce those projects, in the same round trip; its last
// argument must be the Changes' instance. The notification is delivered at
// commit, or never if the transaction rolls back.
func withNotify(write string) string {
	return `WITH e AS (` + write + `) SELECT pg_notify('` + eventsChannel +
		`', CAST(? AS text) || ' ' || string_agg(DISTINCT project_id::text, ',')) FROM e HAVING count(*) > 0`
}

// Listen makes Changes' channels close when another process sharing the
// PostgreSQL database commits events of their project, from now until the
// database is closed: the event streams of a replica wake at once at what
// a worker on another replica records. On SQLite it does nothing. Call it
// once.
func (db *DB) Listen(logger *slog.Logger) {
	if db.engine != Postgres {
		return
	}
	c := db.changes
	ctx, stop := context.WithCancel(context.Background())
	c.stop, c.listening = stop, make(chan struct{})
	go c.listen(ctx, db.pgConfig("onramp-listener"), logger)
}

// close stops listening, if Listen started.
func (c *Changes) close() {
	if c.stop != nil {
		c.stop()
		<-c.listening
	}
}

// listen listens until ctx ends. After each (re)connection it wakes every
// stream, since notifications sent meanwhile are lost; the streams' poll
// covers the time it is disconnected.
func (c *Changes) listen(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) {
	defer close(c.listening)
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, cfg)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("listen for other processes' events; event streams poll until it is back", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (c *Changes) listenOnce(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return err
	}
	c.fireAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		from, ids, _ := strings.Cut(n.Payload, " ")
		if from == c.instance {
			continue // this process woke its streams at its commit
		}
		for s := range strings.SplitSeq(ids, ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				c.fire(id)
			}
		}
	}
}
