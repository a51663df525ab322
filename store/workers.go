package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// A queue that runs jobs says it is alive every beatEvery; one whose last
// beat is older than deadAfter is gone (killed, or its machine lost), and
// the jobs it was running are handed back to the queue by whichever live
// process notices first, at once rather than after the job timeout.
const (
	beatEvery = 2 * time.Second
	deadAfter = 8 * time.Second
)

// startHeartbeat beats until ctx ends, handing back after each beat the
// jobs of processes that stopped beating, and removes the beat when ctx
// ends.
func (q *Queue) startHeartbeat(ctx context.Context, logger *slog.Logger) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	q.stopBeat = func() { cancel(); <-done }
	go func() {
		defer close(done)
		defer func() {
			if _, err := q.db.exec(context.WithoutCancel(ctx), `DELETE FROM workers WHERE id = ?`, q.Client.ID()); err != nil {
				logger.Warn("remove this process's heartbeat", "error", err)
			}
		}()
		for {
			if err := q.beat(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("heartbeat", "error", err)
			} else if n, err := q.handBack(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("hand back the jobs of stopped processes", "error", err)
			} else if n > 0 {
				logger.Warn("handed back the running jobs of a process that stopped", "jobs", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(beatEvery):
			}
		}
	}()
}

// beat records that this process is alive.
func (q *Queue) beat(ctx context.Context) error {
	_, err := q.db.exec(ctx, `INSERT INTO workers (id, beat_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at`,
		q.Client.ID(), time.Now().UnixMicro())
	return err
}

// GitStorageConflict is ClaimGitStorage's refusal: Process, alive,
// keeps the built-in Git server's repositories on Storage, not on this
// process's.
type GitStorageConflict struct {
	Process, Storage string
}

func (e *GitStorageConflict) Error() string {
	return fmt.Sprintf("process %s keeps the built-in Git server's repositories on storage %s", e.Process, e.Storage)
}

// ClaimGitStorage records, before the queue starts, that this process
// keeps the built-in Git server's repositories on storage (an ID that the
// storage itself holds), and refuses with a *GitStorageConflict if a live
// process records other storage: a repository one of them creates would
// be missing from the other's. Processes that claim at once take turns on
// PostgreSQL, so that the second sees the first.
func (q *Queue) ClaimGitStorage(ctx context.Context, storage string) error {
	now := time.Now()
	return q.db.withTx(ctx, func(tx *txn) error {
		if q.db.engine == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7242002)`); err != nil {
				return fmt.Errorf("lock the git storage claims: %w", err)
			}
		}
		var c GitStorageConflict
		err := tx.QueryRowContext(ctx, q.db.q(`SELECT id, git_storage FROM workers
			WHERE beat_at > ? AND git_storage <> '' AND git_storage <> ? AND id <> ? ORDER BY beat_at DESC LIMIT 1`),
			now.Add(-deadAfter).UnixMicro(), storage, q.Client.ID()).Scan(&c.Process, &c.Storage)
		if err == nil {
			return &c
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the git storage of other processes: %w", err)
		}
		// The beats that follow keep git_storage as it is.
		_, err = tx.ExecContext(ctx, q.db.q(`INSERT INTO workers (id, beat_at, git_storage) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at, git_storage = excluded.git_storage`),
			q.Client.ID(), now.UnixMicro(), storage)
		if err != nil {
			return fmt.Errorf("record this process's git storage: %w", err)
		}
		return nil
	})
}

// handBack makes the running jobs of processes that stopped beating
// available again (or discards those on their last attempt, as River's
// rescuer would), and returns how many it handed back. A job fetched less
// than deadAfter ago is left alone: its process may not have beaten yet.
func (q *Queue) handBack(ctx context.Context) (int, error) {
	exec := q.Client.Driver().GetExecutor()
	now := time.Now().UTC()
	jobs, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 1000, StuckHorizon: now.Add(-deadAfter)})
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	alive, err := q.db.liveWorkers(ctx, now.Add(-deadAfter))
	if err != nil {
		return 0, err
	}
	params := &riverdriver.JobRescueManyParams{StuckHorizon: now}
	for _, j := range jobs {
		if len(j.AttemptedBy) == 0 || alive[j.AttemptedBy[len(j.AttemptedBy)-1]] {
			continue
		}
		holder := j.AttemptedBy[len(j.AttemptedBy)-1]
		errData, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: j.Attempt,
			Error: fmt.Sprintf("the process running this job (%s) stopped; handed back by %s", holder, q.Client.ID())})
		if err != nil {
			return 0, err
		}
		state, finalized := rivertype.JobStateAvailable, (*time.Time)(nil)
		if j.Attempt >= j.MaxAttempts {
			state, finalized = rivertype.JobStateDiscarded, &now
		}
		params.ID = append(params.ID, j.ID)
		params.Error = append(params.Error, errData)
		params.FinalizedAt = append(params.FinalizedAt, finalized)
		params.ScheduledAt = append(params.ScheduledAt, now)
		params.State = append(params.State, string(state))
	}
	if len(params.ID) == 0 {
		return 0, nil
	}
	if _, err := exec.JobRescueMany(ctx, params); err != nil {
		return 0, err
	}
	return len(params.ID), nil
}

// liveWorkers returns the processes that beat after since.
func (db *DB) liveWorkers(ctx context.Context, since time.Time) (map[string]bool, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT id FROM workers WHERE beat_at > ?`), since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	defer rows.Close()
	alive := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		alive[id] = true
	}
	return alive, rows.Err()
}
