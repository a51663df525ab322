package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/pipeline"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/templates"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// newDeps returns the jobs' real dependencies: a database of engine, the
// built-in templates, a Git provider in a temporary directory and the
// shared control plane.
func newDeps(t *testing.T, engine string) (*pipeline.Deps, *store.DB) {
	t.Helper()
	db := storetest.Open(t, engine)
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	k, err := kube.New(clustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline.Deps{
		Store: db, Templates: tmpl, Cluster: k, Logger: slog.New(slog.DiscardHandler),
		// Flux is not asked to clone here: nothing serves this URL.
		Git:            gitserver.Resolver{Provider: &gitserver.Provider{Root: t.TempDir(), BaseURL: "http://127.0.0.1:1/git"}, Credentials: db},
		AttemptTimeout: 30 * time.Second,
	}, db
}

// createProject stores a project of the built-in web-service template with
// the given environments, as the API would.
func createProject(t *testing.T, d *pipeline.Deps, db *store.DB, prefix string, envs ...onramp.EnvironmentType) *onramp.Project {
	t.Helper()
	tm, err := d.Templates.FindTemplate("web-service")
	if err != nil {
		t.Fatal(err)
	}
	c := onramp.ProjectCreate{Name: storetest.Name(prefix), Template: tm.Name}
	for _, e := range envs {
		c.Environments = append(c.Environments, onramp.EnvironmentSpec{Name: string(e), Type: e})
	}
	p, err := onramp.NewProject(c, tm)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateProject(context.Background(), "alice", p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Cluster.DeleteProject(context.Background(), p.Name, nil); err != nil {
			t.Errorf("clean up %s: %v", p.Name, err)
		}
	})
	return p
}

// initialize runs one attempt of the project's initialization job.
func initialize(ctx context.Context, d *pipeline.Deps, p *onramp.Project, attempt int) error {
	w := &pipeline.InitializeWorker{Deps: d}
	return w.Work(ctx, &river.Job[onramp.InitializeJob]{
		JobRow: &rivertype.JobRow{ID: p.ID, Attempt: attempt, MaxAttempts: 10},
		Args:   onramp.InitializeJob{ProjectID: p.ID},
	})
}

// The steps run in the order the README lists them, each recorded as it
// starts and ends; progress only rises, to 100 once every object is applied,
// read back and recorded; and a second run is a repair that changes no
// progress and creates nothing more.
func TestInitializeInOrder(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			d, db := newDeps(t, engine)
			p := createProject(t, d, db, "order", onramp.Development, onramp.Staging, onramp.Production)
			ctx := context.Background()
			if err := initialize(ctx, d, p, 1); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			got, err := db.ProjectByID(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Progress != 100 || got.Phase != onramp.PhaseProvisioned || len(got.GitOps.Resources) != 18 {
				t.Fatalf("after the run: %d%% %s, %d records; want 100%% provisioned, 18 records", got.Progress, got.Phase, len(got.GitOps.Resources))
			}
			events, err := db.Events(ctx, p.ID, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var started, ended []string
			last := 0
			for _, e := range events {
				switch e.Type {
				case onramp.EventStep:
					var s onramp.Step
					if err := json.Unmarshal(e.Data, &s); err != nil {
						t.Fatal(err)
					}
					if s.Status == onramp.StepRunning && !slices.Contains(started, s.Name) {
						started = append(started, s.Name)
					}
					if s.Status == onramp.StepSucceeded {
						if !slices.Contains(started, s.Name) {
							t.Errorf("%s ended before it was recorded as started", s.Name)
						}
						ended = append(ended, s.Name)
					}
				case onramp.EventProgress:
					var pr struct{ Progress int }
					if err := json.Unmarshal(e.Data, &pr); err != nil {
						t.Fatal(err)
					}
					if pr.Progress <= last {
						t.Errorf("progress %d after %d", pr.Progress, last)
					}
					last = pr.Progress
				}
			}
			var want []string
			for _, s := range onramp.InitSteps {
				want = append(want, s.Name)
			}
			if !slices.Equal(started, want) || !slices.Equal(ended, want) {
				t.Errorf("steps started %v, ended %v; want both %v", started, ended, want)
			}
			logs, err := db.ProjectLogs(ctx, "alice", p.Name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if l := logs[len(logs)-1]; l.Step != "finalize" || !strings.Contains(l.Message, "3 namespaces, 3 git repositories, 3 kustomizations") {
				t.Errorf("last log line %+v; want finalize's count of what exists", l)
			}

			// Run again: a repair, which re-applies and records nothing new.
			before := len(events)
			if err := db.ChangePhase(ctx, p.ID, onramp.PhaseProvisioned, onramp.PhaseReady); err != nil {
				t.Fatal(err)
			}
			if err := initialize(ctx, d, p, 1); err != nil {
				t.Fatalf("repair: %v", err)
			}
			after, _ := db.Events(ctx, p.ID, 0, 1000)
			for _, e := range after[before:] {
				if e.Type == onramp.EventProgress || e.Type == onramp.EventStep {
					t.Errorf("the repair wrote a %s event: %s", e.Type, e.Data)
				}
			}
			again, _ := db.ProjectByID(ctx, p.ID)
			if again.Progress != 100 || len(again.GitOps.Resources) != 18 {
				t.Errorf("after the repair: %d%%, %d records; want 100%%, 18", again.Progress, len(again.GitOps.Resources))
			}
		})
	}
}

// A template that does not build fails render_template at once, for good,
// with the reason and a hint, before anything is created.
func TestPreflightFailureCreatesNothing(t *testing.T) {
	d, db := newDeps(t, store.SQLite)
	p := createProject(t, d, db, "broken", onramp.Development)
	ctx := context.Background()
	p.Environments[0].Path = "./deploy/overlays/nowhere" // as a template that declares a wrong path
	if _, err := db.SQL().Exec(`UPDATE environments SET path = ? WHERE project_id = ?`, p.Environments[0].Path, p.ID); err != nil {
		t.Fatal(err)
	}
	err := initialize(ctx, d, p, 1)
	var cancel *rivertype.JobCancelError
	if err == nil || !strings.Contains(err.Error(), "nowhere") || !errors.As(err, &cancel) {
		t.Fatalf("initialize = %v; want the job cancelled, naming the path", err)
	}
	got, _ := db.ProjectByID(ctx, p.ID)
	step := got.Steps[0]
	if got.Phase != onramp.PhaseFailed || step.Name != "render_template" || step.Status != onramp.StepFailed || step.Hint == "" || got.Progress != 0 {
		t.Errorf("after the failure: %s, %+v, %d%%; want failed at render_template with a hint, 0%%", got.Phase, step, got.Progress)
	}
	if left, err := d.Cluster.(*kube.Client).Remaining(ctx, p.Name); err != nil || len(left) != 0 {
		t.Errorf("in the cluster after a preflight failure: %v %v; want nothing", left, err)
	}
}
