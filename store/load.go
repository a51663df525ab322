package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/onramp/onramp"
)

// queryProjects loads projects selected by clause (which follows
// "FROM projects p") with their environments, steps and resources.
func (db *DB) queryProjects(ctx context.Context, clause string, args ...any) ([]*onramp.Project, error) {
	rows, err := db.db.QueryContext(ctx, db.q(`SELECT p.id, p.name, (SELECT name FROM users WHERE id = p.owner_id), p.template, p.params,
		(SELECT name FROM git_connections WHERE id = p.git_connection_id), p.phase, p.progress, p.repo_url, p.repo_branch, p.repo_revision, p.created_at, p.updated_at FROM projects p `+clause), args...)
	if err != nil {
		return nil, fmt.Errorf("query projects: %w", err)
	}
	defer rows.Close()
	var out []*onramp.Project
	byID := map[int64]*onramp.Project{}
	for rows.Next() {
		p := &onramp.Project{}
		var params string
		var git sql.NullString
		var created, updated int64
		if err := rows.Scan(&p.ID, &p.Name, &p.Owner, &p.Template, &params, &git, &p.Phase, &p.Progress,
			&p.Repository.URL, &p.Repository.Branch, &p.Repository.Revision, &created, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(params), &p.Params); err != nil {
			return nil, fmt.Errorf("project %s params: %w", p.Name, err)
		}
		p.CreatedAt, p.UpdatedAt, p.Git = fromMicros(created), fromMicros(updated), git.String
		p.Steps, p.Environments, p.GitOps.Resources = []onramp.Step{}, []onramp.Environment{}, []onramp.Resource{}
		out = append(out, p)
		byID[p.ID] = p
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	if err := db.loadChildren(ctx, byID); err != nil {
		return nil, err
	}
	for _, p := range out {
		p.GitOps.Count()
	}
	return out, nil
}

// loadChildren reads the projects' environments, steps and resources: three
// queries at once, each filling its own field of the projects.
func (db *DB) loadChildren(ctx context.Context, byID map[int64]*onramp.Project) error {
	in, ids := inClause(byID)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	load := func(i int, what, query string, fn func(int64, *sql.Rows) error) {
		wg.Go(func() {
			if err := db.each(ctx, query, ids, fn); err != nil {
				errs[i] = fmt.Errorf("load %s: %w", what, err)
			}
		})
	}
	load(0, "environments", `SELECT project_id, name, type, namespace, path, interval_s, status, policy, approvals, rollback_skips_approvals,
		revision, message, deployed_by, deployed_at FROM environments WHERE project_id IN `+in+` ORDER BY project_id, position`,
		func(id int64, rows *sql.Rows) error {
			var e onramp.Environment
			var interval, skips int64
			var deployed sql.NullInt64
			if err := rows.Scan(&id, &e.Name, &e.Type, &e.Namespace, &e.Path, &interval, &e.Status, &e.Policy.Mode, &e.Policy.Approvals, &skips,
				&e.Revision, &e.Message, &e.DeployedBy, &deployed); err != nil {
				return err
			}
			e.Interval = onramp.Duration(time.Duration(interval) * time.Second)
			e.Policy.RollbackSkipsApprovals, e.DeployedAt = skips != 0, optTime(deployed)
			byID[id].Environments = append(byID[id].Environments, e)
			return nil
		})
	load(1, "steps", `SELECT project_id, job, name, weight, status, started_at, finished_at, error, hint FROM steps WHERE project_id IN `+in+` ORDER BY project_id, position`,
		func(id int64, rows *sql.Rows) error {
			var s onramp.Step
			var job string
			var started, finished sql.NullInt64
			if err := rows.Scan(&id, &job, &s.Name, &s.Weight, &s.Status, &started, &finished, &s.Error, &s.Hint); err != nil {
				return err
			}
			s.StartedAt, s.FinishedAt = optTime(started), optTime(finished)
			if p := byID[id]; job == "init" || p.Phase == onramp.PhaseDeleting {
				p.Steps = append(p.Steps, s)
			}
			return nil
		})
	load(2, "resources", `SELECT project_id, `+resourceColumns+` FROM resources WHERE project_id IN `+in+` ORDER BY project_id, environment, kind, name`,
		func(id int64, rows *sql.Rows) error {
			r, err := scanResource(rows, &id)
			if err == nil {
				byID[id].GitOps.Resources = append(byID[id].GitOps.Resources, r)
			}
			return err
		})
	wg.Wait()
	return errors.Join(errs...)
}

const resourceColumns = `kind, namespace, name, environment, status, reason, message, hint, revision, observed_generation, observed_at`

func scanResource(rows *sql.Rows, prefix ...any) (onramp.Resource, error) {
	var r onramp.Resource
	var observed int64
	dest := append(prefix, &r.Kind, &r.Namespace, &r.Name, &r.Environment, &r.Status, &r.Reason, &r.Message, &r.Hint, &r.Revision, &r.ObservedGeneration, &observed)
	err := rows.Scan(dest...)
	r.ObservedAt = fromMicros(observed)
	return r, err
}

func (db *DB) each(ctx context.Context, query string, args []any, fn func(int64, *sql.Rows) error) error {
	rows, err := db.db.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(0, rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func inClause(byID map[int64]*onramp.Project) (string, []any) {
	ids := make([]any, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")", ids
}

func optTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}
