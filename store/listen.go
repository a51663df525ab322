package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// eventsChannel is the PostgreSQL notification channel on which every
// onramp process announces the projects whose events it committed, so that
// the event streams of the other processes sharing the database wake at
// once instead of at their next poll. The payload is the sender's instance
// ID and the project IDs: "<instance> <id>,<id>…".
const eventsChannel = "onramp_events"

// withNotify makes a statement that writes a project's rows (RETURNING
// project_id) announce those projects, in the same round trip; its last
// argument must be db.instance. The notification is delivered at commit,
// or never if the transaction rolls back.
func withNotify(write string) string {
	return `WITH e AS (` + write + `) SELECT pg_notify('` + eventsChannel +
		`', CAST(? AS text) || ' ' || string_agg(DISTINCT project_id::text, ',')) FROM e HAVING count(*) > 0`
}

// newInstance returns a random ID that tells this process's notifications
// from the others'.
func newInstance() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Listen makes Changed's channels close when another process sharing the
// PostgreSQL database commits events of their project, from now until
// Close: the event streams of a replica wake at once at what a worker on
// another replica records. On SQLite it does nothing. Call it once.
func (db *DB) Listen(logger *slog.Logger) {
	if db.engine != Postgres {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	db.stop, db.listening = stop, make(chan struct{})
	go db.listen(ctx, logger)
}

// listen listens until ctx ends. After each (re)connection it wakes every
// stream, since notifications sent meanwhile are lost; the streams' poll
// covers the time it is disconnected.
func (db *DB) listen(ctx context.Context, logger *slog.Logger) {
	defer close(db.listening)
	for ctx.Err() == nil {
		err := db.listenOnce(ctx)
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

func (db *DB) listenOnce(ctx context.Context) error {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // a LISTENing connection never goes back to the pool
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return err
	}
	db.changes.fireAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		from, ids, _ := strings.Cut(n.Payload, " ")
		if from == db.instance {
			continue // this process woke its streams at its commit
		}
		for s := range strings.SplitSeq(ids, ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				db.changes.fire(id)
			}
		}
	}
}
