package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/onramp/onramp"
)

// envRow is an environment as a promotion reads it.
type envRow struct {
	name, namespace string
	policy          onramp.Policy
	revision        string
	message         string
}

// RequestPromotion records a promotion or rollback of one of the project's
// environments, superseding any that has not ended there. With approvals
// to wait for it waits; otherwise its job is enqueued in the same
// transaction. The revision is checked before anything is recorded: a
// promotion takes what the environment before runs and is Ready at, and is
// refused when it is not Ready at it unless an admin forces it; a rollback
// takes a revision the environment was Ready at before.
func (db *DB) RequestPromotion(ctx context.Context, user, project string, req onramp.PromotionRequest) (*onramp.Promotion, error) {
	action, need := "promoting", onramp.RoleDeployer
	if req.Rollback {
		action = "rolling back"
	}
	if req.Force {
		action, need = "forcing a promotion", onramp.RoleAdmin
	}
	if req.Environment == "" {
		return nil, onramp.FieldErrorf("environment", "name the environment to move (--to for a promotion, --env for a rollback)")
	}
	id, _, err := db.access(ctx, user, project, need, action)
	if err != nil {
		return nil, err
	}
	var promotionID int64
	err = db.projectTx(ctx, id, func(tx *txn) error {
		var phase onramp.Phase
		var head string
		if err := tx.QueryRowContext(ctx, db.q(`SELECT phase, repo_revision FROM projects WHERE id = ?`), id).Scan(&phase, &head); err != nil {
			return err
		}
		switch phase {
		case onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded:
		default:
			return onramp.Errorf(onramp.ECONFLICT, "project %s is %s; environments move once it is set up", project, phase)
		}
		envs, err := db.envRows(ctx, tx, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(envs, func(e envRow) bool { return e.name == req.Environment })
		if i < 0 {
			names := make([]string, len(envs))
			for j, e := range envs {
				names[j] = e.name
			}
			return onramp.FieldErrorf("environment", "%s has no environment %q; it has %s", project, req.Environment, strings.Join(names, ", "))
		}
		target := envs[i]
		if target.policy.Mode != onramp.PolicyPromote {
			return onramp.FieldErrorf("environment", "%s follows the branch (policy auto): push to deploy it; promotions and rollbacks move environments whose policy is promote", target.name)
		}
		p := &onramp.Promotion{Project: project, Environment: target.name, Kind: onramp.KindPromotion, From: target.revision,
			RequestedBy: user, Forced: req.Force, Needed: target.policy.Approvals, Status: onramp.PromotionApplying}
		if req.Rollback {
			p.Kind = onramp.KindRollback
			if target.policy.RollbackSkipsApprovals {
				p.Needed = 0
			}
			p.Revision, err = db.rollbackRevision(ctx, tx, id, project, target, req.Revision)
		} else {
			p.Revision, p.Message, err = db.promotionRevision(ctx, tx, id, envs, i, head, req)
		}
		if err != nil {
			return err
		}
		if ready, _, err := db.readyAt(ctx, tx, id, target, p.Revision); err != nil {
			return err
		} else if ready && onramp.SameRevision(target.revision, p.Revision) {
			return onramp.Errorf(onramp.ECONFLICT, "%s already runs %s and is Ready at it", target.name, onramp.ShortRevision(p.Revision))
		}
		if p.Needed > 0 {
			p.Status = onramp.PromotionWaiting
		}
		now := db.now()
		err = tx.QueryRowContext(ctx, db.q(`INSERT INTO promotions (project_id, environment, kind, revision, message, from_revision, requested_by, forced, needed, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			id, p.Environment, p.Kind, p.Revision, p.Message, p.From, user, boolInt(p.Forced), p.Needed, p.Status, now, now).Scan(&promotionID)
		if err != nil {
			return fmt.Errorf("record promotion: %w", err)
		}
		if err := db.supersedeTx(ctx, tx, id, target.name, promotionID); err != nil {
			return err
		}
		if p.Status == onramp.PromotionApplying {
			if err := db.insertJob(ctx, tx, onramp.PromoteJob{PromotionID: promotionID}); err != nil {
				return err
			}
		}
		return db.promotionEventTx(ctx, tx, id, promotionID)
	})
	if err != nil {
		return nil, err
	}
	return db.promotion(ctx, db.db, id, promotionID)
}

// promotionRevision is the revision a promotion to envs[i] takes: the one
// asked for or what the environment before runs, which must be Ready
// there, now or before, unless forced. The first environment takes the
// branch head.
func (db *DB) promotionRevision(ctx context.Context, tx *txn, id int64, envs []envRow, i int, head string, req onramp.PromotionRequest) (rev, message string, err error) {
	if i == 0 {
		rev = head
		if req.Revision != "" {
			rev, err = db.knownRevision(ctx, tx, id, req.Revision, req.Force)
		}
		return rev, "", err
	}
	source := envs[i-1]
	rev, message = source.revision, source.message
	if req.Revision != "" && !onramp.SameRevision(req.Revision, source.revision) {
		if rev, err = db.knownRevision(ctx, tx, id, req.Revision, req.Force); err != nil {
			return "", "", err
		}
		message = ""
	}
	if req.Force {
		return rev, message, nil
	}
	ready, why, err := db.readyAt(ctx, tx, id, source, rev)
	if err != nil || ready {
		return rev, message, err
	}
	if !onramp.SameRevision(rev, source.revision) {
		was, err := db.wasReady(ctx, tx, id, source, rev)
		if err != nil || was {
			return rev, message, err
		}
		why = "it runs " + onramp.ShortRevision(source.revision) + " and never was Ready at this one"
	}
	return "", "", onramp.NotReadyError(source.name, rev, why+" (an admin may promote it anyway with --force)")
}

// rollbackRevision is the revision a rollback of env takes: the one asked
// for, or the last one before the current that it was Ready at.
func (db *DB) rollbackRevision(ctx context.Context, tx *txn, id int64, project string, env envRow, asked string) (string, error) {
	revs, err := db.readyRevisions(ctx, tx, id, env)
	if err != nil {
		return "", err
	}
	for _, r := range revs {
		if asked == "" && !onramp.SameRevision(r, env.revision) {
			return r, nil
		}
		if asked != "" && onramp.SameRevision(asked, r) {
			return r, nil
		}
	}
	if asked != "" {
		return "", onramp.FieldErrorf("revision", "%s was never Ready at %s; roll back to a revision it ran (`onramp project history %s --env %s`)", env.name, asked, project, env.name)
	}
	return "", onramp.Errorf(onramp.ECONFLICT, "%s has not been Ready at any revision but %s; there is nothing to roll back to", env.name, onramp.ShortRevision(env.revision))
}

// readyRevisions are the revisions env's Kustomization was Ready at,
// newest first, each once.
func (db *DB) readyRevisions(ctx context.Context, tx *txn, id int64, env envRow) ([]string, error) {
	rows, err := tx.QueryContext(ctx, db.q(`SELECT revision FROM transitions WHERE project_id = ? AND kind = ? AND namespace = ? AND to_status = ? AND revision <> '' ORDER BY id DESC`),
		id, onramp.KindKustomization, env.namespace, onramp.StatusReady)
	if err != nil {
		return nil, fmt.Errorf("revisions of %s: %w", env.name, err)
	}
	defer rows.Close()
	var out []string
	seen := map[string]bool{}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// wasReady reports whether env was ever Ready at rev.
func (db *DB) wasReady(ctx context.Context, tx *txn, id int64, env envRow, rev string) (bool, error) {
	revs, err := db.readyRevisions(ctx, tx, id, env)
	for _, r := range revs {
		if onramp.SameRevision(rev, r) {
			return true, err
		}
	}
	return false, err
}

// readyAt reports whether env's Kustomization is recorded Ready at rev,
// and if not, why in Flux's words.
func (db *DB) readyAt(ctx context.Context, tx *txn, id int64, env envRow, rev string) (bool, string, error) {
	var status onramp.ResourceStatus
	var reason, message, revision string
	err := tx.QueryRowContext(ctx, db.q(`SELECT status, reason, message, revision FROM resources WHERE project_id = ? AND kind = ? AND namespace = ?`),
		id, onramp.KindKustomization, env.namespace).Scan(&status, &reason, &message, &revision)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "it has no Kustomization yet", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("status of %s: %w", env.name, err)
	}
	if status == onramp.StatusReady && onramp.SameRevision(rev, revision) {
		return true, "", nil
	}
	why := "Kustomization " + string(status)
	if reason != "" {
		why += " (" + reason + ")"
	}
	if message != "" {
		why += ": " + message
	}
	if status == onramp.StatusReady {
		why = "Kustomization is Ready at " + onramp.ShortRevision(revision)
	}
	return false, why, nil
}

// knownRevision resolves rev, a full revision or a commit prefix, against
// the revisions the project's environments run or ran. Forced, a full
// commit SHA the project never ran is taken as it is (Flux says whether
// it exists).
func (db *DB) knownRevision(ctx context.Context, tx *txn, id int64, rev string, force bool) (string, error) {
	var branch string
	if err := tx.QueryRowContext(ctx, db.q(`SELECT repo_branch FROM projects WHERE id = ?`), id).Scan(&branch); err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT revision FROM environments WHERE project_id = ? UNION SELECT revision FROM transitions WHERE project_id = ? AND revision <> ''`), id, id)
	if err != nil {
		return "", fmt.Errorf("known revisions: %w", err)
	}
	defer rows.Close()
	var match []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return "", err
		}
		if onramp.SameRevision(rev, r) && !slices.Contains(match, r) {
			match = append(match, r)
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) > 1:
		return "", onramp.FieldErrorf("revision", "%s names more than one revision; give more of the commit", rev)
	case force:
		if sha, err := onramp.RevisionSHA(rev); err == nil {
			return branch + "@sha1:" + sha, nil
		}
	}
	return "", onramp.FieldErrorf("revision", "no environment ran %s; give a revision from `onramp project get` or `history`, or a full commit SHA with --force", rev)
}

func (db *DB) envRows(ctx context.Context, tx *txn, id int64) ([]envRow, error) {
	var out []envRow
	err := db.eachTx(ctx, tx, `SELECT name, namespace, policy, approvals, rollback_skips_approvals, revision, message FROM environments WHERE project_id = ? ORDER BY position`, id,
		func(rows *sql.Rows) error {
			var e envRow
			var skips int64
			err := rows.Scan(&e.name, &e.namespace, &e.policy.Mode, &e.policy.Approvals, &skips, &e.revision, &e.message)
			e.policy.RollbackSkipsApprovals = skips != 0
			out = append(out, e)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("environments: %w", err)
	}
	return out, nil
}

// supersedeTx ends every promotion of env that has not ended, but keep.
func (db *DB) supersedeTx(ctx context.Context, tx *txn, projectID int64, env string, keep int64) error {
	rows, err := tx.QueryContext(ctx, db.q(`UPDATE promotions SET status = ?, superseded_by = ?, updated_at = ?
		WHERE project_id = ? AND environment = ? AND id <> ? AND status IN (?, ?, ?) RETURNING id`),
		onramp.PromotionSuperseded, keep, db.now(), projectID, env, keep, onramp.PromotionWaiting, onramp.PromotionApplying, onramp.PromotionReconciling)
	if err != nil {
		return fmt.Errorf("supersede promotions of %s: %w", env, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, id := range ids {
		if err := db.promotionEventTx(ctx, tx, projectID, id); err != nil {
			return err
		}
	}
	return nil
}

// Approve records the user's approval of a waiting promotion; the last
// approval needed enqueues it. The requester cannot approve their own.
func (db *DB) Approve(ctx context.Context, user, project string, promotionID int64) (*onramp.Promotion, error) {
	id, _, err := db.access(ctx, user, project, onramp.RoleDeployer, "approving")
	if err != nil {
		return nil, err
	}
	err = db.projectTx(ctx, id, func(tx *txn) error {
		p, err := db.promotion(ctx, tx, id, promotionID)
		if err != nil {
			return err
		}
		switch {
		case p.Status != onramp.PromotionWaiting:
			return onramp.Errorf(onramp.ECONFLICT, "promotion %d of %s is %s, not waiting for approval", p.ID, p.Environment, p.Status)
		case p.RequestedBy == user:
			return onramp.Errorf(onramp.EFORBIDDEN, "you asked for promotion %d; another deployer or admin of %s must approve it", p.ID, project)
		}
		for _, a := range p.Approvals {
			if a.User == user {
				return onramp.Errorf(onramp.ECONFLICT, "you approved promotion %d already; it waits for %d more", p.ID, p.Needed-len(p.Approvals))
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO approvals (promotion_id, user_name, at) VALUES (?, ?, ?)`), p.ID, user, db.now()); err != nil {
			return fmt.Errorf("record approval: %w", err)
		}
		if len(p.Approvals)+1 >= p.Needed {
			if err := db.setPromotionTx(ctx, tx, p.ID, onramp.PromotionApplying, "", ""); err != nil {
				return err
			}
			if err := db.insertJob(ctx, tx, onramp.PromoteJob{PromotionID: p.ID}); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, db.q(`UPDATE promotions SET updated_at = ? WHERE id = ?`), db.now(), p.ID); err != nil {
			return err
		}
		return db.promotionEventTx(ctx, tx, id, p.ID)
	})
	if err != nil {
		return nil, err
	}
	return db.promotion(ctx, db.db, id, promotionID)
}

// Promotions is the project's audit trail of promotions and rollbacks,
// newest first; env, if set, keeps one environment's.
func (db *DB) Promotions(ctx context.Context, user, project, env string) ([]*onramp.Promotion, error) {
	id, _, err := db.access(ctx, user, project, onramp.RoleViewer, "")
	if err != nil {
		return nil, err
	}
	return db.promotions(ctx, db.db, id, env, 0)
}

// FindPromotion returns one of the project's promotions.
func (db *DB) FindPromotion(ctx context.Context, user, project string, promotionID int64) (*onramp.Promotion, error) {
	id, _, err := db.access(ctx, user, project, onramp.RoleViewer, "")
	if err != nil {
		return nil, err
	}
	return db.promotion(ctx, db.db, id, promotionID)
}

// PromotionByID returns a promotion and its project's ID, for its job.
func (db *DB) PromotionByID(ctx context.Context, promotionID int64) (*onramp.Promotion, int64, error) {
	var projectID int64
	err := db.db.QueryRowContext(ctx, db.q(`SELECT project_id FROM promotions WHERE id = ?`), promotionID).Scan(&projectID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, onramp.Errorf(onramp.ENOTFOUND, "promotion %d not found", promotionID)
	}
	if err != nil {
		return nil, 0, err
	}
	p, err := db.promotion(ctx, db.db, projectID, promotionID)
	return p, projectID, err
}

func (db *DB) promotion(ctx context.Context, q querier, projectID, promotionID int64) (*onramp.Promotion, error) {
	ps, err := db.promotions(ctx, q, projectID, "", promotionID)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, onramp.Errorf(onramp.ENOTFOUND, "promotion %d not found; `onramp project history NAME --env ENV` lists them", promotionID)
	}
	return ps[0], nil
}

func (db *DB) promotions(ctx context.Context, q querier, projectID int64, env string, promotionID int64) ([]*onramp.Promotion, error) {
	query := `SELECT pr.id, p.name, pr.environment, pr.kind, pr.revision, pr.message, pr.from_revision, pr.requested_by, pr.forced, pr.needed,
		pr.status, pr.error, pr.hint, pr.superseded_by, pr.created_at, pr.updated_at, pr.ready_at
		FROM promotions pr JOIN projects p ON p.id = pr.project_id WHERE pr.project_id = ?`
	args := []any{projectID}
	if env != "" {
		query, args = query+` AND pr.environment = ?`, append(args, env)
	}
	if promotionID != 0 {
		query, args = query+` AND pr.id = ?`, append(args, promotionID)
	}
	rows, err := q.QueryContext(ctx, db.q(query+` ORDER BY pr.id DESC`), args...)
	if err != nil {
		return nil, fmt.Errorf("promotions: %w", err)
	}
	var out []*onramp.Promotion
	byID := map[int64]*onramp.Promotion{}
	for rows.Next() {
		p := &onramp.Promotion{Approvals: []onramp.Approval{}}
		var forced, created, updated int64
		var ready sql.NullInt64
		if err := rows.Scan(&p.ID, &p.Project, &p.Environment, &p.Kind, &p.Revision, &p.Message, &p.From, &p.RequestedBy, &forced, &p.Needed,
			&p.Status, &p.Error, &p.Hint, &p.SupersededBy, &created, &updated, &ready); err != nil {
			rows.Close()
			return nil, err
		}
		p.Forced, p.CreatedAt, p.UpdatedAt, p.ReadyAt = forced != 0, fromMicros(created), fromMicros(updated), optTime(ready)
		out = append(out, p)
		byID[p.ID] = p
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || len(out) == 0 {
		return out, err
	}
	rows, err = q.QueryContext(ctx, db.q(`SELECT a.promotion_id, a.user_name, a.at FROM approvals a JOIN promotions pr ON pr.id = a.promotion_id
		WHERE pr.project_id = ? ORDER BY a.at`), projectID)
	if err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at int64
		var a onramp.Approval
		if err := rows.Scan(&id, &a.User, &at); err != nil {
			return nil, err
		}
		a.At = fromMicros(at)
		if p := byID[id]; p != nil {
			p.Approvals = append(p.Approvals, a)
		}
	}
	return out, rows.Err()
}

func (db *DB) setPromotionTx(ctx context.Context, tx *txn, id int64, status onramp.PromotionStatus, msg, hint string) error {
	query, args := `UPDATE promotions SET status = ?, error = ?, hint = ?, updated_at = ?`, []any{status, msg, hint, db.now()}
	if status == onramp.PromotionDone {
		query, args = query+`, ready_at = ?`, append(args, db.now())
	}
	_, err := tx.ExecContext(ctx, db.q(query+` WHERE id = ?`), append(args, id)...)
	if err != nil {
		return fmt.Errorf("set promotion %d %s: %w", id, status, err)
	}
	return nil
}

func (db *DB) promotionEventTx(ctx context.Context, tx *txn, projectID, promotionID int64) error {
	p, err := db.promotion(ctx, tx, projectID, promotionID)
	if err != nil {
		return err
	}
	return db.appendEvent(tx, projectID, onramp.EventPromotion, p)
}

// StartPromotion makes an approved promotion's revision the environment's
// desired one (what every apply of the project's objects applies from now
// on), with its commit message, and returns the promotion. A promotion
// that has ended is returned as it is, for its job to stop.
func (db *DB) StartPromotion(ctx context.Context, promotionID int64, message string) (*onramp.Promotion, error) {
	p, projectID, err := db.PromotionByID(ctx, promotionID)
	if err != nil || p.Status != onramp.PromotionApplying {
		return p, err
	}
	err = db.projectTx(ctx, projectID, func(tx *txn) error {
		var status onramp.PromotionStatus
		if err := tx.QueryRowContext(ctx, db.q(`SELECT status FROM promotions WHERE id = ?`), promotionID).Scan(&status); err != nil {
			return err
		}
		if status != onramp.PromotionApplying {
			return nil
		}
		_, err := tx.ExecContext(ctx, db.q(`UPDATE environments SET revision = ?, message = ?, deployed_by = ?, deployed_at = ? WHERE project_id = ? AND name = ?`),
			p.Revision, message, p.RequestedBy, db.now(), projectID, p.Environment)
		if err == nil && message != "" {
			_, err = tx.ExecContext(ctx, db.q(`UPDATE promotions SET message = ? WHERE id = ?`), message, promotionID)
		}
		if err != nil {
			return fmt.Errorf("set the revision of %s: %w", p.Environment, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p, _, err = db.PromotionByID(ctx, promotionID)
	return p, err
}

// AdvancePromotion moves a promotion that has not ended to status
// (reconciling, done or failed, with Flux's reason and a hint). It returns
// false when the promotion had ended already: superseded, say.
func (db *DB) AdvancePromotion(ctx context.Context, promotionID int64, status onramp.PromotionStatus, msg, hint string) (bool, error) {
	_, projectID, err := db.PromotionByID(ctx, promotionID)
	if err != nil {
		return false, err
	}
	moved := false
	err = db.projectTx(ctx, projectID, func(tx *txn) error {
		var current onramp.PromotionStatus
		if err := tx.QueryRowContext(ctx, db.q(`SELECT status FROM promotions WHERE id = ?`), promotionID).Scan(&current); err != nil {
			return err
		}
		if current.Final() || current == onramp.PromotionWaiting {
			return nil
		}
		if current == status {
			moved = true
			return nil
		}
		if err := db.setPromotionTx(ctx, tx, promotionID, status, msg, hint); err != nil {
			return err
		}
		moved = true
		return db.promotionEventTx(ctx, tx, projectID, promotionID)
	})
	return moved, err
}
