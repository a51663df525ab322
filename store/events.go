package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/onramp/onramp"
)

// appendEvent records an event in the transaction that made the change it
// describes. The transaction must hold the project's lock (projectTx or
// lockProject), unless it creates the project: on PostgreSQL the lock makes
// a project's events commit in ID order, so a reader resuming after ID n
// never skips an event that commits later with a smaller ID. The events are
// written when the transaction commits, in one statement: on PostgreSQL
// each statement is a round trip, made while the project's lock is held.
func (db *DB) appendEvent(tx *txn, projectID int64, typ string, data any) error {
	body, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	tx.events = append(tx.events, projectID, typ, string(body), db.now())
	return nil
}

// writeEvents inserts a transaction's events. One statement inserts its
// rows in the order given, so their IDs keep the order they were made in,
// and on PostgreSQL announces them to the other processes.
func (db *DB) writeEvents(ctx context.Context, tx *txn) error {
	if len(tx.events) == 0 {
		return nil
	}
	query, args := `INSERT INTO events (project_id, type, data, at) VALUES `+placeholders(len(tx.events)/4, 4), tx.events
	if db.engine == Postgres { // the other processes' streams wake (Listen)
		query, args = withNotify(query+` RETURNING project_id`), append(args, db.changes.instance)
	}
	_, err := tx.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return fmt.Errorf("append %d events: %w", len(tx.events)/4, err)
	}
	return nil
}

// lockProject takes, on PostgreSQL, the lock that orders a project's events,
// held until the transaction ends, and with async makes the transaction's
// commit asynchronous (recordTx), in the same round trip. (SQLite's
// immediate transactions already serialize writers.)
func (db *DB) lockProject(ctx context.Context, tx *txn, projectID int64, async bool) error {
	if db.engine != Postgres {
		return nil
	}
	query := `SELECT pg_advisory_xact_lock(7242002, $1::int)`
	if async {
		query = `SELECT pg_advisory_xact_lock(7242002, $1::int), set_config('synchronous_commit', 'off', true)`
	}
	if _, err := tx.ExecContext(ctx, query, int32(projectID)); err != nil {
		return fmt.Errorf("lock project events: %w", err)
	}
	return nil
}

// ProjectEvents returns the owner's project's events after afterID, in one
// statement: event streams ask at every commit. A project that exists
// without newer events is one row of NULL events.
func (db *DB) ProjectEvents(ctx context.Context, user, name string, afterID int64, limit int) ([]onramp.Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT e.id, e.type, e.data, e.at FROM projects p JOIN users u ON u.id = p.owner_id
		LEFT JOIN events e ON e.project_id = p.id AND e.id > ?
		WHERE p.name = ? AND `+memberOf+` ORDER BY e.id LIMIT ?`), afterID, name, user, user, limit)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", name, err)
	}
	defer rows.Close()
	found := false
	var out []onramp.Event
	for rows.Next() {
		found = true
		var id, at sql.NullInt64
		var typ, data sql.NullString
		if err := rows.Scan(&id, &typ, &data, &at); err != nil {
			return nil, err
		}
		if id.Valid {
			out = append(out, onramp.Event{ID: id.Int64, Project: name, Type: typ.String, Data: json.RawMessage(data.String), At: fromMicros(at.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, notFound(name)
	}
	return out, nil
}

// Events returns a project's events after afterID, oldest first.
func (db *DB) Events(ctx context.Context, projectID, afterID int64, limit int) ([]onramp.Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT e.id, p.name, e.type, e.data, e.at FROM events e JOIN projects p ON p.id = e.project_id
		WHERE e.project_id = ? AND e.id > ? ORDER BY e.id LIMIT ?`), projectID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []onramp.Event
	for rows.Next() {
		var e onramp.Event
		var data string
		var at int64
		if err := rows.Scan(&e.ID, &e.Project, &e.Type, &data, &at); err != nil {
			return nil, err
		}
		e.Data, e.At = json.RawMessage(data), fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastProjectEvent returns the ID of the owner's project's newest event, or 0.
func (db *DB) LastProjectEvent(ctx context.Context, user, name string) (int64, error) {
	projectID, _, err := db.access(ctx, user, name, onramp.RoleViewer, "")
	if err != nil {
		return 0, err
	}
	var id sql.NullInt64
	err = db.db.QueryRowContext(ctx, db.q(`SELECT max(id) FROM events WHERE project_id = ?`), projectID).Scan(&id)
	return id.Int64, err
}
