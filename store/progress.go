package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/onramp/onramp"
)

// These methods are the workers' and the status watcher's: they are not
// scoped to an owner. Each change and its event are written together.

// changePhaseTx moves a project to phase to, if it is in from ("" for any
// phase), and records a phase event when the phase changed.
func (db *DB) changePhaseTx(ctx context.Context, tx *txn, id int64, from, to onramp.Phase) error {
	query, args := `UPDATE projects SET phase = ?, updated_at = ? WHERE id = ? AND phase <> ?`, []any{to, db.now(), id, to}
	if from != "" {
		query, args = query+` AND phase = ?`, append(args, from)
	}
	res, err := tx.ExecContext(ctx, db.q(query), args...)
	if err != nil {
		return fmt.Errorf("change phase to %s: %w", to, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return db.appendEvent(tx, id, onramp.EventPhase, phaseData{to})
}

// ChangePhase moves a project from one phase to another, and does nothing
// if it is no longer in from: a decision made on a stale read never
// overwrites a newer one (a delete request, say).
func (db *DB) ChangePhase(ctx context.Context, id int64, from, to onramp.Phase) error {
	return db.projectTx(ctx, id, func(tx *txn) error { return db.changePhaseTx(ctx, tx, id, from, to) })
}

// StartStep marks a step running (keeping the first start time of a resumed step).
func (db *DB) StartStep(ctx context.Context, id int64, step string) error {
	return db.recordTx(ctx, id, func(tx *txn) error {
		_, err := db.startStepTx(ctx, tx, id, step)
		return err
	})
}

func (db *DB) startStepTx(ctx context.Context, tx *txn, id int64, step string) (onramp.Phase, error) {
	return db.updateStepTx(ctx, tx, id, step, `status = ?, started_at = COALESCE(started_at, ?), finished_at = NULL, error = '', hint = ''`,
		onramp.StepRunning, db.now())
}

// FinishStep ends steps in one transaction, in order: the objects each
// applied last recorded, each marked succeeded and its next step started
// (one statement), progress raised, its log line appended and the
// repository it made or moved recorded.
// Progress 100 also moves an initializing project to provisioned, so that
// no reader sees one without the other.
// It returns the project's phase as the transaction leaves it, so that a
// job running more steps notices a deletion without another read.
func (db *DB) FinishStep(ctx context.Context, id int64, ds ...onramp.StepDone) (phase onramp.Phase, err error) {
	err = db.recordTx(ctx, id, func(tx *txn) error {
		for _, d := range ds {
			if phase, err = db.finishTx(ctx, tx, id, d); err != nil {
				return err
			}
		}
		return nil
	})
	return phase, err
}

func (db *DB) finishTx(ctx context.Context, tx *txn, id int64, d onramp.StepDone) (onramp.Phase, error) {
	if d.Applied != nil {
		if err := db.recordAppliedTx(ctx, tx, id, *d.Applied); err != nil {
			return "", err
		}
	}
	if len(d.Recorded) > 0 {
		if err := db.checkRecorded(ctx, tx, id, d.Recorded); err != nil {
			return "", err
		}
	}
	if d.Log != "" {
		if err := db.logTx(ctx, tx, id, d.Step, "info", d.Log); err != nil {
			return "", err
		}
	}
	phase, next, err := db.finishStepTx(ctx, tx, id, d.Step, d.Next)
	if err != nil {
		return "", err
	}
	if d.Repository != nil {
		if err := db.setRepositoryTx(ctx, tx, id, *d.Repository); err != nil {
			return "", err
		}
	}
	if err := db.raiseProgressTx(ctx, tx, id, d.Progress, d.Step); err != nil {
		return "", err
	}
	if d.Progress == 100 && phase == onramp.PhaseInitializing {
		// Flux may have said everything is ready already: the phase is
		// judged from the records at once.
		if err := db.changePhaseTx(ctx, tx, id, onramp.PhaseInitializing, onramp.PhaseProvisioned); err != nil {
			return "", err
		}
		if phase, err = db.judgeTx(ctx, tx, id); err != nil {
			return "", err
		}
	}
	if next != nil {
		return phase, db.appendEvent(tx, id, onramp.EventStep, *next)
	}
	return phase, nil
}

// finishStepTx marks step succeeded and, when next is not "", next running,
// in one statement; it appends step's event and returns next's for the
// caller to append after the events of what the step's end also changed.
func (db *DB) finishStepTx(ctx context.Context, tx *txn, id int64, step, next string) (onramp.Phase, *onramp.Step, error) {
	now := db.now()
	rows, err := tx.QueryContext(ctx, db.q(`UPDATE steps SET
		status = CASE WHEN name = ? THEN ? ELSE ? END,
		finished_at = CASE WHEN name = ? THEN CAST(? AS BIGINT) ELSE NULL END,
		started_at = CASE WHEN name = ? THEN started_at ELSE COALESCE(started_at, CAST(? AS BIGINT)) END,
		error = CASE WHEN name = ? THEN error ELSE '' END,
		hint = CASE WHEN name = ? THEN hint ELSE '' END
		WHERE project_id = ? AND name IN (?, ?)
		RETURNING name, weight, status, started_at, finished_at, error, hint, (SELECT phase FROM projects WHERE id = ?)`),
		step, onramp.StepSucceeded, onramp.StepRunning, step, now, step, now, step, step, id, step, next, id)
	if err != nil {
		return "", nil, fmt.Errorf("finish step %s: %w", step, err)
	}
	defer rows.Close()
	var phase onramp.Phase
	var done, started *onramp.Step
	for rows.Next() {
		var s onramp.Step
		var startedAt, finishedAt sql.NullInt64
		if err := rows.Scan(&s.Name, &s.Weight, &s.Status, &startedAt, &finishedAt, &s.Error, &s.Hint, &phase); err != nil {
			return "", nil, fmt.Errorf("finish step %s: %w", step, err)
		}
		s.StartedAt, s.FinishedAt = optTime(startedAt), optTime(finishedAt)
		if s.Name == step {
			done = &s
		} else {
			started = &s
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("finish step %s: %w", step, err)
	}
	if done == nil || (next != "" && started == nil) {
		return "", nil, fmt.Errorf("finish step %s: no such step", step)
	}
	return phase, started, db.appendEvent(tx, id, onramp.EventStep, *done)
}

// FailStep marks a step failed with the reason and what to do.
func (db *DB) FailStep(ctx context.Context, id int64, step, reason, hint string) error {
	return db.recordTx(ctx, id, func(tx *txn) error {
		_, err := db.updateStepTx(ctx, tx, id, step, `status = ?, finished_at = ?, error = ?, hint = ?`, onramp.StepFailed, db.now(), reason, hint)
		return err
	})
}

// updateStepTx changes a step, appends its step event and returns the
// project's phase, read in the same statement.
func (db *DB) updateStepTx(ctx context.Context, tx *txn, id int64, step, set string, args ...any) (onramp.Phase, error) {
	args = append(args, id, step, id)
	var s onramp.Step
	var started, finished sql.NullInt64
	var phase onramp.Phase
	err := tx.QueryRowContext(ctx, db.q(`UPDATE steps SET `+set+` WHERE project_id = ? AND name = ?
		RETURNING name, weight, status, started_at, finished_at, error, hint, (SELECT phase FROM projects WHERE id = ?)`), args...).
		Scan(&s.Name, &s.Weight, &s.Status, &started, &finished, &s.Error, &s.Hint, &phase)
	if err != nil {
		return "", fmt.Errorf("update step %s: %w", step, err)
	}
	s.StartedAt, s.FinishedAt = optTime(started), optTime(finished)
	return phase, db.appendEvent(tx, id, onramp.EventStep, s)
}

// raiseProgressTx raises a project's progress; it never lowers it.
func (db *DB) raiseProgressTx(ctx context.Context, tx *txn, id int64, progress int, step string) error {
	if progress <= 0 {
		return nil
	}
	res, err := tx.ExecContext(ctx, db.q(`UPDATE projects SET progress = ?, updated_at = ? WHERE id = ? AND progress < ?`), progress, db.now(), id, progress)
	if err != nil {
		return fmt.Errorf("set progress: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return db.appendEvent(tx, id, onramp.EventProgress, progressData{progress, step})
}

type progressData struct {
	Progress int    `json:"progress"`
	Step     string `json:"step,omitempty"`
}

// Log appends a line to a project's log.
func (db *DB) Log(ctx context.Context, id int64, step, level, message string) error {
	return db.recordTx(ctx, id, func(tx *txn) error { return db.logTx(ctx, tx, id, step, level, message) })
}

func (db *DB) logTx(ctx context.Context, tx *txn, id int64, step, level, message string) error {
	l := onramp.LogLine{Time: db.Now().UTC(), Step: step, Level: level, Message: message}
	err := tx.QueryRowContext(ctx, db.q(`INSERT INTO log_lines (project_id, at, step, level, message) VALUES (?, ?, ?, ?, ?) RETURNING id`),
		id, l.Time.UnixMicro(), step, level, message).Scan(&l.ID)
	if err != nil {
		return fmt.Errorf("append log: %w", err)
	}
	return db.appendEvent(tx, id, onramp.EventLog, l)
}

// SetRepository records where a project's repository is and its revision.
func (db *DB) SetRepository(ctx context.Context, id int64, repo onramp.Repository) error {
	return db.withTx(ctx, func(tx *txn) error { return db.setRepositoryTx(ctx, tx, id, repo) })
}

func (db *DB) setRepositoryTx(ctx context.Context, tx *txn, id int64, repo onramp.Repository) error {
	_, err := tx.ExecContext(ctx, db.q(`UPDATE projects SET repo_url = ?, repo_branch = ?, repo_revision = ?, updated_at = ? WHERE id = ?`),
		repo.URL, repo.Branch, repo.Revision, db.now(), id)
	if err != nil {
		return fmt.Errorf("set repository: %w", err)
	}
	if repo.Revision == "" {
		return nil
	}
	// The environments that follow the branch run its head from now on;
	// the others start at the first revision and then move by promotion.
	_, err = tx.ExecContext(ctx, db.q(`UPDATE environments SET revision = ?, message = '', deployed_by = '', deployed_at = ?
		WHERE project_id = ? AND (policy = ? OR revision = '') AND revision <> ?`),
		repo.Revision, db.now(), id, onramp.PolicyAuto, repo.Revision)
	if err == nil && repo.Message != "" {
		_, err = tx.ExecContext(ctx, db.q(`UPDATE environments SET message = ? WHERE project_id = ? AND revision = ?`), repo.Message, id, repo.Revision)
	}
	if err != nil {
		return fmt.Errorf("set the revision of the environments that follow the branch: %w", err)
	}
	return nil
}

// RemoveProject deletes a project's rows: the last step of its deletion.
func (db *DB) RemoveProject(ctx context.Context, id int64) error {
	query, args := `DELETE FROM projects WHERE id = ?`, []any{id}
	if db.engine == Postgres { // the other processes' streams end (Listen)
		query, args = withNotify(query+` RETURNING id AS project_id`), append(args, db.changes.instance)
	}
	_, err := db.exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("remove project #%d: %w", id, err)
	}
	db.changes.fire(id)
	return nil
}

// JudgeProject recomputes a set-up project's environment statuses and phase
// from its records (onramp.JudgePhase), in one transaction, and returns the
// phase it leaves. A project that is initializing, failed or deleting
// keeps its phase.
func (db *DB) JudgeProject(ctx context.Context, id int64) (phase onramp.Phase, err error) {
	err = db.recordTx(ctx, id, func(tx *txn) error {
		phase, err = db.judgeTx(ctx, tx, id)
		return err
	})
	return phase, err
}

func (db *DB) judgeTx(ctx context.Context, tx *txn, id int64) (onramp.Phase, error) {
	p := &onramp.Project{ID: id}
	if err := tx.QueryRowContext(ctx, db.q(`SELECT phase FROM projects WHERE id = ?`), id).Scan(&p.Phase); err != nil {
		return "", fmt.Errorf("judge project #%d: %w", id, err)
	}
	switch p.Phase {
	case onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded:
	default:
		return p.Phase, nil
	}
	err := db.eachTx(ctx, tx, `SELECT name, status FROM environments WHERE project_id = ? ORDER BY position`, id, func(rows *sql.Rows) error {
		var e onramp.Environment
		err := rows.Scan(&e.Name, &e.Status)
		p.Environments = append(p.Environments, e)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("judge project #%d: %w", id, err)
	}
	var resources []onramp.Resource
	err = db.eachTx(ctx, tx, `SELECT kind, environment, status FROM resources WHERE project_id = ?`, id, func(rows *sql.Rows) error {
		var r onramp.Resource
		err := rows.Scan(&r.Kind, &r.Environment, &r.Status)
		resources = append(resources, r)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("judge project #%d: %w", id, err)
	}
	for _, e := range p.Environments {
		if s := onramp.EnvironmentStatus(e.Name, resources); s != e.Status {
			if err := db.setEnvironmentStatusTx(ctx, tx, id, e.Name, s); err != nil {
				return "", err
			}
		}
	}
	phase := onramp.JudgePhase(p, resources)
	if phase != p.Phase {
		if err := db.changePhaseTx(ctx, tx, id, p.Phase, phase); err != nil {
			return "", err
		}
	}
	return phase, nil
}

// eachTx runs query with one argument in tx and calls fn for every row.
func (db *DB) eachTx(ctx context.Context, tx *txn, query string, arg any, fn func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, db.q(query), arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
