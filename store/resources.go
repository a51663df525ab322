package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/onramp/onramp"
)

// UpsertResources records cluster objects' observed states in one
// transaction. A change of status appends a transition; any visible change
// appends a resource event. Recording the same state again changes
// nothing, so a resync after a restart neither loses nor duplicates
// transitions. Of several states of one object, the last counts. It
// reports whether anything changed.
func (db *DB) UpsertResources(ctx context.Context, projectID int64, rs ...onramp.Resource) (changed bool, err error) {
	err = db.recordTx(ctx, projectID, func(tx *txn) error {
		n, err := db.writeResourcesTx(ctx, tx, projectID, rs, false)
		changed = n > 0
		return err
	})
	return changed, err
}

// RecordApplied records, in one transaction, the objects the pipeline has
// just applied to an environment with the progress they are worth and the
// step's log line. An object's live status belongs to the status watcher,
// whose newer observation must not be overwritten by a slower write of the
// apply's answer: an object already recorded is left as it is, unless it
// was missing.
func (db *DB) RecordApplied(ctx context.Context, projectID int64, a onramp.Applied) error {
	return db.recordTx(ctx, projectID, func(tx *txn) error { return db.recordAppliedTx(ctx, tx, projectID, a) })
}

func (db *DB) recordAppliedTx(ctx context.Context, tx *txn, projectID int64, a onramp.Applied) error {
	if _, err := db.writeResourcesTx(ctx, tx, projectID, a.Resources, true); err != nil {
		return err
	}
	if a.Status != "" {
		if err := db.setEnvironmentStatusTx(ctx, tx, projectID, a.Environment, a.Status); err != nil {
			return err
		}
	}
	if err := db.raiseProgressTx(ctx, tx, projectID, a.Progress, a.Step); err != nil {
		return err
	}
	if a.Log != "" {
		return db.logTx(ctx, tx, projectID, a.Step, "info", a.Log)
	}
	return nil
}

// writeResourcesTx writes the objects of rs that differ from their record,
// or with newOnly those not yet recorded or recorded missing, with their
// transitions and events, in three statements whatever their number: on
// PostgreSQL each statement is a round trip, made while the project's
// lock is held. Every writer of a project's records holds that lock
// (recordTx), and the records are read after it is taken, so two watchers
// (two replicas) that see the same change record one transition, not two,
// without row locks. It returns how many it wrote.
func (db *DB) writeResourcesTx(ctx context.Context, tx *txn, projectID int64, rs []onramp.Resource, newOnly bool) (int, error) {
	recorded, err := db.readRecorded(ctx, tx, projectID)
	if err != nil {
		return 0, err
	}
	last := map[objectKey]int{} // one row per object in one INSERT … ON CONFLICT
	for i, r := range rs {
		last[objectKey{r.Kind, r.Namespace, r.Name}] = i
	}
	var upserts, transitions, rechecks []any
	n := 0
	for i, r := range rs {
		k := objectKey{r.Kind, r.Namespace, r.Name}
		old, exists := recorded[k]
		switch {
		case last[k] != i:
			continue
		case exists && newOnly && (old.Status != onramp.StatusMissing || r.Status == onramp.StatusMissing):
			continue
		case exists && !newOnly && onramp.Recheck(old, r):
			// No change of state: only when it was last reconciled.
			rechecks = append(rechecks, r.ObservedAt.UnixMicro(), projectID, r.Kind, r.Namespace, r.Name)
			continue
		case exists && old.Status == r.Status && old.Reason == r.Reason && old.Message == r.Message && old.Hint == r.Hint && old.Revision == r.Revision:
			continue
		}
		if err := db.appendEvent(tx, projectID, onramp.EventResource, r); err != nil {
			return 0, err
		}
		at := r.ObservedAt.UnixMicro()
		upserts = append(upserts, projectID, r.Kind, r.Namespace, r.Name, r.Environment, r.Status, r.Reason, r.Message, r.Hint, r.Revision, r.ObservedGeneration, at)
		// A move to another revision while ready is a transition too:
		// the revisions an environment was Ready at are what promotions
		// and rollbacks choose from.
		if !exists || old.Status != r.Status || (r.Status == onramp.StatusReady && old.Revision != r.Revision) {
			transitions = append(transitions, projectID, r.Kind, r.Namespace, r.Name, old.Status, r.Status, r.Reason, r.Message, r.Revision, at)
		}
		n++
	}
	for i := 0; i < len(rechecks); i += 5 {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE resources SET observed_at = ? WHERE project_id = ? AND kind = ? AND namespace = ? AND name = ?`), rechecks[i:i+5]...)
		if err != nil {
			return 0, fmt.Errorf("record a reconcile of %s %s/%s: %w", rechecks[i+2], rechecks[i+3], rechecks[i+4], err)
		}
	}
	if n == 0 {
		return 0, nil
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO resources (project_id, `+resourceColumns+`) VALUES `+placeholders(n, 12)+`
		ON CONFLICT (project_id, kind, namespace, name) DO UPDATE SET environment = excluded.environment, status = excluded.status,
		reason = excluded.reason, message = excluded.message, hint = excluded.hint, revision = excluded.revision,
		observed_generation = excluded.observed_generation, observed_at = excluded.observed_at`), upserts...)
	if err != nil {
		return 0, fmt.Errorf("record %d objects: %w", n, err)
	}
	if len(transitions) > 0 {
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO transitions (project_id, kind, namespace, name, from_status, to_status, reason, message, revision, at)
			VALUES `+placeholders(len(transitions)/10, 10)), transitions...)
		if err != nil {
			return 0, fmt.Errorf("record transitions: %w", err)
		}
	}
	return n, nil
}

// placeholders is "(?, ?), (?, ?)" for rows of cols values.
func placeholders(rows, cols int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(row+", ", rows-1) + row
}

// Resources returns the recorded cluster objects of a project.
func (db *DB) Resources(ctx context.Context, projectID int64) ([]onramp.Resource, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT `+resourceColumns+` FROM resources WHERE project_id = ? ORDER BY environment, kind, name`), projectID)
	if err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	defer rows.Close()
	out := []onramp.Resource{}
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CheckRecorded returns an ECONFLICT error naming the first of rs that the
// project has no record of. (A step's end checks in its own transaction:
// StepDone.Recorded.)
func (db *DB) CheckRecorded(ctx context.Context, projectID int64, rs []onramp.Resource) error {
	return db.checkRecorded(ctx, db.db, projectID, rs)
}

func (db *DB) checkRecorded(ctx context.Context, q querier, projectID int64, rs []onramp.Resource) error {
	recorded, err := db.readRecorded(ctx, q, projectID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if _, ok := recorded[objectKey{r.Kind, r.Namespace, r.Name}]; !ok {
			return onramp.Errorf(onramp.ECONFLICT, "%s %s/%s exists in the cluster but is not recorded", r.Kind, r.Namespace, r.Name)
		}
	}
	return nil
}

// objectKey names a recorded object: kind, namespace, name.
type objectKey [3]string

// querier is a *sql.DB or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readRecorded returns a project's records, with what tells a change of
// state, as q sees them.
func (db *DB) readRecorded(ctx context.Context, q querier, projectID int64) (map[objectKey]onramp.Resource, error) {
	rows, err := q.QueryContext(ctx, db.q(`SELECT kind, namespace, name, status, reason, message, hint, revision, observed_generation FROM resources WHERE project_id = ?`), projectID)
	if err != nil {
		return nil, fmt.Errorf("read recorded objects: %w", err)
	}
	defer rows.Close()
	recorded := map[objectKey]onramp.Resource{}
	for rows.Next() {
		var r onramp.Resource
		if err := rows.Scan(&r.Kind, &r.Namespace, &r.Name, &r.Status, &r.Reason, &r.Message, &r.Hint, &r.Revision, &r.ObservedGeneration); err != nil {
			return nil, fmt.Errorf("read recorded objects: %w", err)
		}
		recorded[objectKey{r.Kind, r.Namespace, r.Name}] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read recorded objects: %w", err)
	}
	return recorded, nil
}

// RemoveResources removes the records of a project's objects of kind once
// its deletion has seen every one of them gone from the cluster, each with
// a resource event saying so, so that what the project shows counts down
// with the cluster.
func (db *DB) RemoveResources(ctx context.Context, projectID int64, kind string) error {
	return db.recordTx(ctx, projectID, func(tx *txn) error {
		rows, err := tx.QueryContext(ctx, db.q(`DELETE FROM resources WHERE project_id = ? AND kind = ? RETURNING namespace, name, environment`), projectID, kind)
		if err != nil {
			return fmt.Errorf("remove %s records: %w", kind, err)
		}
		defer rows.Close()
		now := db.Now().UTC()
		for rows.Next() {
			r := onramp.Resource{Kind: kind, Status: onramp.StatusDeleted, ObservedAt: now}
			if err := rows.Scan(&r.Namespace, &r.Name, &r.Environment); err != nil {
				return fmt.Errorf("remove %s records: %w", kind, err)
			}
			if err := db.appendEvent(tx, projectID, onramp.EventResource, r); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// SetEnvironmentStatus records an environment's status.
func (db *DB) SetEnvironmentStatus(ctx context.Context, projectID int64, env string, status onramp.ResourceStatus) error {
	return db.recordTx(ctx, projectID, func(tx *txn) error { return db.setEnvironmentStatusTx(ctx, tx, projectID, env, status) })
}

// setEnvironmentStatusTx leaves an environment that is being deleted
// deleting: an initialization the delete request interrupted may still
// record what it applied.
func (db *DB) setEnvironmentStatusTx(ctx context.Context, tx *txn, projectID int64, env string, status onramp.ResourceStatus) error {
	_, err := tx.ExecContext(ctx, db.q(`UPDATE environments SET status = ? WHERE project_id = ? AND name = ? AND status <> ?`), status, projectID, env, onramp.StatusDeleting)
	if err != nil {
		return fmt.Errorf("set environment %s status: %w", env, err)
	}
	return nil
}
