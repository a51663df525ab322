package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp/onramp"
)

var _ onramp.ProjectService = (*DB)(nil)

// uniqueJob keeps one live job of a kind per project: a retry or delete
// asked twice, or redelivered, never runs twice at once.
var uniqueJob = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveJob}}

// liveJob are the states of a job that has not ended.
var liveJob = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// CreateProject records p with its environments and steps, and enqueues its
// initialization in the same transaction.
func (db *DB) CreateProject(ctx context.Context, owner string, p *onramp.Project) error {
	if db.Jobs == nil {
		return fmt.Errorf("create project: no job queue configured")
	}
	params, err := json.Marshal(p.Params)
	if err != nil {
		return err
	}
	now := db.now()
	err = db.withTx(ctx, func(tx *txn) error {
		insert := db.insertProject
		if db.engine == Postgres {
			insert = db.insertProjectPostgres
		}
		if err := insert(ctx, tx, owner, p, string(params), now); err != nil {
			return err
		}
		return db.insertJob(ctx, tx, onramp.InitializeJob{ProjectID: p.ID})
	})
	if isUniqueViolation(err) {
		return db.conflict(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.Name, err)
	}
	created(p, owner, now)
	return nil
}

// insertProject writes a new project, its environments, its steps and its
// first event, setting p.ID.
func (db *DB) insertProject(ctx context.Context, tx *txn, owner string, p *onramp.Project, params string, now int64) error {
	ownerID, err := db.ensureUser(ctx, tx, owner)
	if err != nil {
		return err
	}
	gitID, err := db.gitConnectionID(ctx, tx, owner, p.Git)
	if err != nil {
		return err
	}
	err = tx.QueryRowContext(ctx, db.q(`INSERT INTO projects (name, owner_id, template, params, phase, progress, repo_branch, git_connection_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, 'main', ?, ?, ?) RETURNING id`),
		p.Name, ownerID, p.Template, params, onramp.PhaseInitializing, gitID, now, now).Scan(&p.ID)
	if err != nil {
		return err
	}
	var envs []any
	for i, e := range p.Environments {
		envs = append(envs, p.ID, i, e.Name, e.Type, e.Namespace, e.Path, int64(time.Duration(e.Interval)/time.Second), onramp.StatusPending,
			e.Policy.Mode, e.Policy.Approvals, boolInt(e.Policy.RollbackSkipsApprovals))
	}
	if len(envs) > 0 {
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO environments (project_id, position, name, type, namespace, path, interval_s, status, policy, approvals, rollback_skips_approvals)
			VALUES `+placeholders(len(p.Environments), 11)), envs...)
		if err != nil {
			return err
		}
	}
	if err := db.insertSteps(ctx, tx, p.ID, "init", onramp.InitSteps); err != nil {
		return err
	}
	// No lock for the event (see appendEvent): no other transaction
	// sees the project before this one commits.
	return db.appendEvent(tx, p.ID, onramp.EventPhase, phaseData{onramp.PhaseInitializing})
}

// insertProjectPostgres is insertProject in one statement of
// data-modifying CTEs: on PostgreSQL each statement is a round trip to a
// server process that shares the cores with the cluster, and the create
// is on the way of every new project. An owner not yet recorded makes
// the statement insert nothing; the owner is then recorded and the
// statement run again.
func (db *DB) insertProjectPostgres(ctx context.Context, tx *txn, owner string, p *onramp.Project, params string, now int64) error {
	gitID, err := db.gitConnectionID(ctx, tx, owner, p.Git)
	if err != nil {
		return err
	}
	var args []any
	arg := func(v any, cast string) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args)) + cast
	}
	var q strings.Builder
	fmt.Fprintf(&q, `WITH p AS (INSERT INTO projects (name, owner_id, template, params, phase, progress, repo_branch, git_connection_id, created_at, updated_at)
		SELECT %s, id, %s, %s, %s, 0, 'main', %s, %s, %[6]s FROM users WHERE name = %s RETURNING id)`,
		arg(p.Name, ""), arg(p.Template, ""), arg(params, ""), arg(onramp.PhaseInitializing, ""), arg(gitID, "::bigint"), arg(now, "::bigint"), arg(owner, ""))
	if len(p.Environments) > 0 {
		var rows []string
		for i, e := range p.Environments {
			rows = append(rows, fmt.Sprintf("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", arg(i, "::bigint"), arg(e.Name, "::text"), arg(e.Type, "::text"),
				arg(e.Namespace, "::text"), arg(e.Path, "::text"), arg(int64(time.Duration(e.Interval)/time.Second), "::bigint"), arg(onramp.StatusPending, "::text"),
				arg(e.Policy.Mode, "::text"), arg(e.Policy.Approvals, "::bigint"), arg(boolInt(e.Policy.RollbackSkipsApprovals), "::bigint")))
		}
		q.WriteString(`, e AS (INSERT INTO environments (project_id, position, name, type, namespace, path, interval_s, status, policy, approvals, rollback_skips_approvals)
		SELECT p.id, v.* FROM p, (VALUES ` + strings.Join(rows, ", ") + `) v)`)
	}
	var steps []string
	for i, s := range onramp.InitSteps {
		steps = append(steps, fmt.Sprintf("(%s, 'init', %s, %s, %s)", arg(i, "::bigint"), arg(s.Name, "::text"), arg(s.Weight, "::bigint"), arg(onramp.StepPending, "::text")))
	}
	q.WriteString(`, s AS (INSERT INTO steps (project_id, position, job, name, weight, status)
		SELECT p.id, v.* FROM p, (VALUES ` + strings.Join(steps, ", ") + `) v)`)
	event, err := json.Marshal(phaseData{onramp.PhaseInitializing})
	if err != nil {
		return err
	}
	fmt.Fprintf(&q, `, ev AS (INSERT INTO events (project_id, type, data, at) SELECT id, %s, %s, %s FROM p)
		SELECT id FROM p`, arg(onramp.EventPhase, "::text"), arg(string(event), "::text"), arg(now, "::bigint"))
	err = tx.QueryRowContext(ctx, q.String(), args...).Scan(&p.ID)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.ensureUser(ctx, tx, owner); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, q.String(), args...).Scan(&p.ID)
	}
	return err
}

// created sets p as CreateProject stored it, as ProjectByID would read it
// back, for the create's answer.
func created(p *onramp.Project, owner string, now int64) {
	p.Owner, p.Phase, p.Progress = owner, onramp.PhaseInitializing, 0
	p.Repository = onramp.Repository{Branch: "main"}
	p.CreatedAt, p.UpdatedAt = fromMicros(now), fromMicros(now)
	p.Steps = make([]onramp.Step, len(onramp.InitSteps))
	for i, s := range onramp.InitSteps {
		p.Steps[i] = onramp.Step{Name: s.Name, Weight: s.Weight, Status: onramp.StepPending}
	}
	p.Environments = slices.Clone(p.Environments)
	for i := range p.Environments {
		e := &p.Environments[i]
		e.Interval = onramp.Duration(time.Duration(e.Interval).Truncate(time.Second))
		e.Status = onramp.StatusPending
	}
	if p.Environments == nil {
		p.Environments = []onramp.Environment{}
	}
	p.GitOps = onramp.GitOps{Resources: []onramp.Resource{}}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// conflict explains which uniqueness rule a new project broke.
func (db *DB) conflict(ctx context.Context, p *onramp.Project) error {
	var n int
	if err := db.db.QueryRowContext(ctx, db.q(`SELECT count(*) FROM projects WHERE name = ?`), p.Name).Scan(&n); err != nil {
		return fmt.Errorf("create project %s: find the conflict: %w", p.Name, err)
	}
	if n > 0 {
		return &onramp.Error{Code: onramp.ECONFLICT, Field: "name", Message: fmt.Sprintf("a project named %q already exists; choose another name", p.Name)}
	}
	return &onramp.Error{Code: onramp.ECONFLICT, Field: "environments", Message: fmt.Sprintf("one of the namespaces of %q is already used by another project; choose another project or environment name", p.Name)}
}

func (db *DB) insertSteps(ctx context.Context, tx *txn, projectID int64, job string, steps []onramp.StepDef) error {
	base := 0
	if job == "delete" {
		base = 100
	}
	var rows []any
	for i, s := range steps {
		rows = append(rows, projectID, base+i, job, s.Name, s.Weight, onramp.StepPending)
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO steps (project_id, position, job, name, weight, status) VALUES `+placeholders(len(steps), 6)+`
		ON CONFLICT (project_id, name) DO UPDATE SET status = excluded.status, started_at = NULL, finished_at = NULL, error = '', hint = ''`), rows...)
	if err != nil {
		return fmt.Errorf("insert %s steps: %w", job, err)
	}
	return nil
}

func notFound(name string) error {
	return onramp.Errorf(onramp.ENOTFOUND, "project %q not found", name)
}

// FindProject returns a project its owner or a member may see, with the
// user's role in it.
func (db *DB) FindProject(ctx context.Context, user, name string) (*onramp.Project, error) {
	id, role, err := db.access(ctx, user, name, onramp.RoleViewer, "")
	if err != nil {
		return nil, err
	}
	p, err := db.ProjectByID(ctx, id)
	if err != nil {
		return nil, err
	}
	p.Role = role
	return p, nil
}

// ProjectByID returns a project whoever owns it, for the workers.
func (db *DB) ProjectByID(ctx context.Context, id int64) (*onramp.Project, error) {
	ps, err := db.queryProjects(ctx, `WHERE p.id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, onramp.Errorf(onramp.ENOTFOUND, "project #%d not found", id)
	}
	return ps[0], nil
}

// Phase returns a project's phase alone: the cheap read that running jobs
// repeat to notice a deletion.
func (db *DB) Phase(ctx context.Context, id int64) (onramp.Phase, error) {
	var ph onramp.Phase
	err := db.db.QueryRowContext(ctx, db.q(`SELECT phase FROM projects WHERE id = ?`), id).Scan(&ph)
	if errors.Is(err, sql.ErrNoRows) {
		return "", onramp.Errorf(onramp.ENOTFOUND, "project #%d not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("read phase of project #%d: %w", id, err)
	}
	return ph, nil
}

// LookupProject returns the ID and phase of the project called name,
// whoever owns it: the status watcher's cheap read for every observation.
func (db *DB) LookupProject(ctx context.Context, name string) (int64, onramp.Phase, error) {
	var id int64
	var ph onramp.Phase
	err := db.db.QueryRowContext(ctx, db.q(`SELECT id, phase FROM projects WHERE name = ?`), name).Scan(&id, &ph)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", notFound(name)
	}
	if err != nil {
		return 0, "", fmt.Errorf("look up project %s: %w", name, err)
	}
	return id, ph, nil
}

// ProjectByName returns a project whoever owns it.
func (db *DB) ProjectByName(ctx context.Context, name string) (*onramp.Project, error) {
	ps, err := db.queryProjects(ctx, `WHERE p.name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, notFound(name)
	}
	return ps[0], nil
}

// ListProjects returns a page of the projects the user owns or is a
// member of, newest first.
func (db *DB) ListProjects(ctx context.Context, user string, f onramp.ProjectFilter) ([]*onramp.Project, string, error) {
	limit := f.Limit
	if limit <= 0 || limit > 100 {
		limit = 50
	}
	before := int64(1<<62 - 1)
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		v, err2 := strconv.ParseInt(string(b), 10, 64)
		if err != nil || err2 != nil {
			return nil, "", onramp.FieldErrorf("cursor", "cursor %q is not one this server gave out; start again without it", f.Cursor)
		}
		before = v
	}
	ps, err := db.queryProjects(ctx, `JOIN users u ON u.id = p.owner_id WHERE `+memberOf+` AND p.id < ? ORDER BY p.id DESC LIMIT ?`, user, user, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ps) > limit {
		ps = ps[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ps[limit-1].ID, 10)))
	}
	return ps, next, nil
}

// SetUpProjects returns every project past initialization and not being
// deleted: those whose cluster objects the status watcher looks after.
func (db *DB) SetUpProjects(ctx context.Context) ([]*onramp.Project, error) {
	return db.queryProjects(ctx, `WHERE p.phase IN (?, ?, ?) ORDER BY p.id`, onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded)
}

type phaseData struct {
	Phase onramp.Phase `json:"phase"`
}
