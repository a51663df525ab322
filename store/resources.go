package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/onramp/onramp"
)

// UpsertResource records a cluster object's observed state. A change of
// status appends a transition; any visible change appends a resource event.
// Recording the same state again changes nothing, so a resync after a
// restart neither loses nor duplicates transitions. It reports whether
// anything changed.
func (db *DB) UpsertResource(ctx context.Context, projectID int64, r onramp.Resource) (changed bool, err error) {
	err = db.recordTx(ctx, projectID, func(tx *txn) error {
		changed, err = db.upsertResourceTx(ctx, tx, projectID, r)
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
	return db.recordTx(ctx, projectID, func(tx *txn) error {
		if err := db.recordNewTx(ctx, tx, projectID, a.Resources); err != nil {
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
	})
}

func (db *DB) upsertResourceTx(ctx context.Context, tx *txn, projectID int64, r onramp.Resource) (bool, error) {
	var old onramp.Resource
	// On PostgreSQL the row lock makes two watchers (two replicas) that
	// see the same change record one transition, not two. SQLite's
	// immediate transactions already serialize writers.
	lock := ""
	if db.engine == Postgres {
		lock = " FOR UPDATE"
	}
	err := tx.QueryRowContext(ctx, db.q(`SELECT status, reason, message, hint, revision FROM resources
		WHERE project_id = ? AND kind = ? AND namespace = ? AND name = ?`+lock), projectID, r.Kind, r.Namespace, r.Name).
		Scan(&old.Status, &old.Reason, &old.Message, &old.Hint, &old.Revision)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	if exists && old.Status == r.Status && old.Reason == r.Reason && old.Message == r.Message && old.Hint == r.Hint && old.Revision == r.Revision {
		return false, nil
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO resources (project_id, `+resourceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (project_id, kind, namespace, name) DO UPDATE SET environment = excluded.environment, status = excluded.status,
		reason = excluded.reason, message = excluded.message, hint = excluded.hint, revision = excluded.revision,
		observed_generation = excluded.observed_generation, observed_at = excluded.observed_at`),
		projectID, r.Kind, r.Namespace, r.Name, r.Environment, r.Status, r.Reason, r.Message, r.Hint, r.Revision, r.ObservedGeneration, r.ObservedAt.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("upsert %s %s/%s: %w", r.Kind, r.Namespace, r.Name, err)
	}
	if !exists || old.Status != r.Status {
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO transitions (project_id, kind, namespace, name, from_status, to_status, reason, message, revision, at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), projectID, r.Kind, r.Namespace, r.Name, old.Status, r.Status, r.Reason, r.Message, r.Revision, r.ObservedAt.UnixMicro())
		if err != nil {
			return false, fmt.Errorf("record transition: %w", err)
		}
	}
	return true, db.appendEvent(tx, projectID, onramp.EventResource, r)
}

// recordNewTx records the objects of rs not yet recorded, or recorded as
// missing, in three statements and their events whatever their number: on PostgreSQL each
// statement is a round trip, and the project's lock is held meanwhile.
func (db *DB) recordNewTx(ctx context.Context, tx *txn, projectID int64, rs []onramp.Resource) error {
	lock := ""
	if db.engine == Postgres {
		lock = " FOR UPDATE"
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT kind, namespace, name, status FROM resources WHERE project_id = ?`+lock), projectID)
	if err != nil {
		return fmt.Errorf("read recorded objects: %w", err)
	}
	recorded := map[[3]string]onramp.ResourceStatus{}
	for rows.Next() {
		var k [3]string
		var s onramp.ResourceStatus
		if err := rows.Scan(&k[0], &k[1], &k[2], &s); err != nil {
			rows.Close()
			return fmt.Errorf("read recorded objects: %w", err)
		}
		recorded[k] = s
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read recorded objects: %w", err)
	}
	var upserts, transitions []any
	n := 0
	for _, r := range rs {
		old, exists := recorded[[3]string{r.Kind, r.Namespace, r.Name}]
		if exists && (old != onramp.StatusMissing || r.Status == onramp.StatusMissing) {
			continue
		}
		if err := db.appendEvent(tx, projectID, onramp.EventResource, r); err != nil {
			return err
		}
		at := r.ObservedAt.UnixMicro()
		upserts = append(upserts, projectID, r.Kind, r.Namespace, r.Name, r.Environment, r.Status, r.Reason, r.Message, r.Hint, r.Revision, r.ObservedGeneration, at)
		transitions = append(transitions, projectID, r.Kind, r.Namespace, r.Name, old, r.Status, r.Reason, r.Message, r.Revision, at)
		n++
	}
	if n == 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO resources (project_id, `+resourceColumns+`) VALUES `+placeholders(n, 12)+`
		ON CONFLICT (project_id, kind, namespace, name) DO UPDATE SET environment = excluded.environment, status = excluded.status,
		reason = excluded.reason, message = excluded.message, hint = excluded.hint, revision = excluded.revision,
		observed_generation = excluded.observed_generation, observed_at = excluded.observed_at`), upserts...)
	if err != nil {
		return fmt.Errorf("record %d objects: %w", n, err)
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO transitions (project_id, kind, namespace, name, from_status, to_status, reason, message, revision, at)
		VALUES `+placeholders(n, 10)), transitions...)
	if err != nil {
		return fmt.Errorf("record transitions: %w", err)
	}
	return nil
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
