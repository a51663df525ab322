package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp/onramp"
)

// RequestDelete marks the owner's project and its environments deleting
// and enqueues its deletion.
// Asking again while it is being deleted is not an error.
func (db *DB) RequestDelete(ctx context.Context, user, name string, opts onramp.DeleteOptions) (*onramp.Project, error) {
	id, _, err := db.access(ctx, user, name, onramp.RoleAdmin, "deleting the project")
	if err != nil {
		return nil, err
	}
	err = db.projectTx(ctx, id, func(tx *txn) error {
		if err := db.changePhaseTx(ctx, tx, id, "", onramp.PhaseDeleting); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE environments SET status = ? WHERE project_id = ?`), onramp.StatusDeleting, id); err != nil {
			return fmt.Errorf("mark environments deleting: %w", err)
		}
		if err := db.insertSteps(ctx, tx, id, "delete", onramp.DeleteSteps); err != nil {
			return err
		}
		return db.insertJob(ctx, tx, onramp.DeleteJob{ProjectID: id, DeleteOptions: opts})
	})
	if err != nil {
		return nil, fmt.Errorf("request delete of %s: %w", name, err)
	}
	return db.ProjectByID(ctx, id)
}

// RequestRetry resumes a failed initialization from its failed step, or
// re-applies a set-up project's objects from the recorded desired state.
// The phase is read under the project's lock, so that a job ending
// meanwhile is not taken for a lost one.
func (db *DB) RequestRetry(ctx context.Context, user, name string) (*onramp.Project, error) {
	id, _, err := db.access(ctx, user, name, onramp.RoleDeployer, "retrying")
	if err != nil {
		return nil, err
	}
	err = db.projectTx(ctx, id, func(tx *txn) error {
		var phase onramp.Phase
		if err := tx.QueryRowContext(ctx, db.q(`SELECT phase FROM projects WHERE id = ?`), id).Scan(&phase); err != nil {
			return err
		}
		switch phase {
		case onramp.PhaseDeleting:
			return onramp.Errorf(onramp.ECONFLICT, "project %q is being deleted and cannot be retried", name)
		case onramp.PhaseFailed:
			if err := db.changePhaseTx(ctx, tx, id, onramp.PhaseFailed, onramp.PhaseInitializing); err != nil {
				return err
			}
		case onramp.PhaseInitializing:
			// An initialization whose job ended without recording an end
			// (its worker's process lost on the last attempt, say) would
			// stay initializing for good: resume it.
			live, err := db.initializationIn(ctx, tx, id, liveJob...)
			if err != nil {
				return err
			}
			if live {
				return onramp.Errorf(onramp.ECONFLICT, "project %q is still initializing; wait for it to finish or fail", name)
			}
			if err := db.logTx(ctx, tx, id, "", "warn", "the initialization job ended without recording an end; resuming it from its last finished step"); err != nil {
				return err
			}
		}
		return db.insertJob(ctx, tx, onramp.InitializeJob{ProjectID: id, Request: db.now()})
	})
	if onramp.ErrorCode(err) == onramp.ECONFLICT {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("request retry of %s: %w", name, err)
	}
	return db.ProjectByID(ctx, id)
}

// FailLostInitializations fails every initializing project, unchanged for
// quiet or longer, that no initialization job waits, runs or retries for:
// its job ended without recording an end (its worker's process lost during
// the last attempt, so River discarded it). The step it stopped in is
// failed with the reason and the retry that resumes it, so that the project
// no longer says initializing for good. It returns how many it failed.
func (db *DB) FailLostInitializations(ctx context.Context, quiet time.Duration) (int, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT id, name FROM projects WHERE phase = ? AND updated_at <= ?`),
		onramp.PhaseInitializing, db.Now().Add(-quiet).UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("list initializing projects: %w", err)
	}
	type project struct {
		id   int64
		name string
	}
	var candidates []project
	for rows.Next() {
		var p project
		if err := rows.Scan(&p.id, &p.name); err != nil {
			rows.Close()
			return 0, err
		}
		candidates = append(candidates, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("list initializing projects: %w", err)
	}
	failed := 0
	for _, p := range candidates {
		lost := false
		err := db.projectTx(ctx, p.id, func(tx *txn) error {
			var phase onramp.Phase
			if err := tx.QueryRowContext(ctx, db.q(`SELECT phase FROM projects WHERE id = ?`), p.id).Scan(&phase); err != nil || phase != onramp.PhaseInitializing {
				return err
			}
			if live, err := db.initializationIn(ctx, tx, p.id, liveJob...); err != nil || live {
				return err
			}
			var step string
			err := tx.QueryRowContext(ctx, db.q(`SELECT name FROM steps WHERE project_id = ? AND job = 'init' AND status <> ? ORDER BY position LIMIT 1`),
				p.id, onramp.StepSucceeded).Scan(&step)
			if err != nil {
				return fmt.Errorf("find the step %s stopped in: %w", p.name, err)
			}
			reason := "the initialization job ended without recording an end: its worker stopped during the last attempt"
			if _, err := db.updateStepTx(ctx, tx, p.id, step, `status = ?, finished_at = ?, error = ?, hint = ?`,
				onramp.StepFailed, db.now(), reason, "run `onramp project retry "+p.name+"` to resume from the last finished step"); err != nil {
				return err
			}
			if err := db.logTx(ctx, tx, p.id, step, "error", reason); err != nil {
				return err
			}
			lost = true
			return db.changePhaseTx(ctx, tx, p.id, onramp.PhaseInitializing, onramp.PhaseFailed)
		})
		if err != nil {
			return failed, fmt.Errorf("fail the lost initialization of %s: %w", p.name, err)
		}
		if lost {
			failed++
		}
	}
	return failed, nil
}

// Initializing reports whether an initialization job of the project is
// running.
func (db *DB) Initializing(ctx context.Context, projectID int64) (bool, error) {
	return db.initializationIn(ctx, nil, projectID, rivertype.JobStateRunning)
}

// initializationIn reports whether an initialization job of the project is
// in one of states, read in tx if not nil.
func (db *DB) initializationIn(ctx context.Context, tx *txn, projectID int64, states ...rivertype.JobState) (bool, error) {
	params := river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()).States(states...).First(10_000)
	var res *river.JobListResult
	var err error
	if tx != nil {
		res, err = db.Jobs.JobListTx(ctx, tx.Tx, params)
	} else {
		res, err = db.Jobs.JobList(ctx, params)
	}
	if err != nil {
		return false, fmt.Errorf("list initialization jobs: %w", err)
	}
	for _, j := range res.Jobs {
		var args onramp.InitializeJob
		if err := json.Unmarshal(j.EncodedArgs, &args); err == nil && args.ProjectID == projectID {
			return true, nil
		}
	}
	return false, nil
}

// RequestRepair re-applies a set-up project's objects at its repository's
// current head: the built-in Git server calls it after a push. Projects
// that are not set up yet, or are going away, are left alone.
func (db *DB) RequestRepair(ctx context.Context, name string) error {
	p, err := db.ProjectByName(ctx, name)
	if err != nil {
		return err
	}
	switch p.Phase {
	case onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded:
	default:
		return nil
	}
	return db.projectTx(ctx, p.ID, func(tx *txn) error {
		return db.insertJob(ctx, tx, onramp.InitializeJob{ProjectID: p.ID, Request: db.now()})
	})
}

// ProjectLogs returns the owner's project's log lines after afterID.
func (db *DB) ProjectLogs(ctx context.Context, user, name string, afterID int64) ([]onramp.LogLine, error) {
	id, _, err := db.access(ctx, user, name, onramp.RoleViewer, "")
	if err != nil {
		return nil, err
	}
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT id, at, step, level, message FROM log_lines WHERE project_id = ? AND id > ? ORDER BY id`), id, afterID)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", name, err)
	}
	defer rows.Close()
	out := []onramp.LogLine{}
	for rows.Next() {
		var l onramp.LogLine
		var at int64
		if err := rows.Scan(&l.ID, &at, &l.Step, &l.Level, &l.Message); err != nil {
			return nil, err
		}
		l.Time = fromMicros(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// ProjectHistory returns the owner's project's status transitions, oldest first.
func (db *DB) ProjectHistory(ctx context.Context, user, name string) ([]onramp.StatusTransition, error) {
	id, _, err := db.access(ctx, user, name, onramp.RoleViewer, "")
	if err != nil {
		return nil, err
	}
	return db.History(ctx, id)
}

// History returns a project's status transitions, oldest first.
func (db *DB) History(ctx context.Context, projectID int64) ([]onramp.StatusTransition, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT id, kind, namespace, name, from_status, to_status, reason, message, revision, at
		FROM transitions WHERE project_id = ? ORDER BY id`), projectID)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	out := []onramp.StatusTransition{}
	for rows.Next() {
		var t onramp.StatusTransition
		var at int64
		if err := rows.Scan(&t.ID, &t.Kind, &t.Namespace, &t.Name, &t.From, &t.To, &t.Reason, &t.Message, &t.Revision, &at); err != nil {
			return nil, err
		}
		t.At = fromMicros(at)
		out = append(out, t)
	}
	return out, rows.Err()
}
