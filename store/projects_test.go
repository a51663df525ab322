package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// TestCreateProjectAnswer checks that CreateProject leaves the project as a
// read of what it stored returns it: the create's answer is the truth.
func TestCreateProjectAnswer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		plain, odd := newProject("answer"), newProject("answer-odd")
		odd.Params, odd.Environments[0].Interval = nil, onramp.Duration(90*time.Second+500*time.Millisecond)
		odd.Environments[1].Status, odd.Progress = onramp.StatusReady, 40
		for _, p := range []*onramp.Project{plain, odd} {
			if err := db.CreateProject(ctx, "alice", p); err != nil {
				t.Fatalf("CreateProject(%s): %v", p.Name, err)
			}
			stored, err := db.ProjectByID(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, stored) {
				t.Errorf("CreateProject(%s) answered\n%+v\nbut stored\n%+v", p.Name, p, stored)
			}
		}
	})
}

func TestProjectCRUD(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("shop")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatalf("CreateProject: %v", err)
		}
		got, err := db.FindProject(ctx, "alice", "shop")
		if err != nil {
			t.Fatalf("FindProject: %v", err)
		}
		if got.Phase != onramp.PhaseInitializing || got.Progress != 0 || got.Owner != "alice" || got.Params["image"] != "nginx" {
			t.Errorf("FindProject = %+v; want initializing at 0%% owned by alice", got)
		}
		if len(got.Environments) != 3 || got.Environments[1].Namespace != "shop-staging" || time.Duration(got.Environments[0].Interval) != time.Minute {
			t.Errorf("environments = %+v; want development, staging, production", got.Environments)
		}
		if len(got.Steps) != len(onramp.InitSteps) || got.Steps[0].Name != "render_template" || got.Steps[0].Status != onramp.StepPending {
			t.Errorf("steps = %+v; want the pending init steps", got.Steps)
		}
		if _, err := db.FindProject(ctx, "bob", "shop"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("FindProject(bob) err = %v; want not found across owners", err)
		}
		if err := db.CreateProject(ctx, "bob", newProject("shop")); onramp.ErrorCode(err) != onramp.ECONFLICT || onramp.ErrorField(err) != "name" {
			t.Errorf("duplicate create err = %v; want conflict on name", err)
		}
		// "shop-dev" + "x" and "shop" + "dev-x" would share a namespace.
		clash := newProject("shop-development")
		clash.Environments = []onramp.Environment{{Name: "x", Type: onramp.Development, Namespace: "shop-development-x", Path: "./x"}}
		if err := db.CreateProject(ctx, "alice", clash); err != nil {
			t.Fatalf("create shop-development: %v", err)
		}
		clash2 := newProject("shop")
		clash2.Name = "shop-other"
		clash2.Environments = []onramp.Environment{{Name: "y", Type: onramp.Development, Namespace: "shop-development-x", Path: "./y"}}
		if err := db.CreateProject(ctx, "alice", clash2); onramp.ErrorCode(err) != onramp.ECONFLICT || onramp.ErrorField(err) != "environments" {
			t.Errorf("namespace clash err = %v; want conflict on environments", err)
		}

		if err := db.StartStep(ctx, p.ID, "render_template"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FinishStep(ctx, p.ID, onramp.StepDone{Step: "render_template", Progress: 5, Log: "rendered", Next: "create_repository"}); err != nil {
			t.Fatal(err)
		}
		// One transaction: step done, its log line, progress, next step started.
		got, _ = db.ProjectByID(ctx, p.ID)
		if got.Steps[0].Status != onramp.StepSucceeded || got.Steps[1].Status != onramp.StepRunning || got.Progress != 5 {
			t.Errorf("after FinishStep: steps %+v, progress %d; want render_template succeeded, create_repository running, 5%%", got.Steps[:2], got.Progress)
		}
		if done, next := got.Steps[0], got.Steps[1]; done.FinishedAt == nil || next.StartedAt == nil || next.FinishedAt != nil || !next.StartedAt.Equal(*done.FinishedAt) {
			t.Errorf("after FinishStep: %s ended %v, %s started %v ended %v; want the next started as the first ended, and not ended",
				done.Name, done.FinishedAt, next.Name, next.StartedAt, next.FinishedAt)
		}
		if got.Steps[2].Status != onramp.StepPending || got.Steps[2].StartedAt != nil {
			t.Errorf("after FinishStep: %+v; want the step after next untouched", got.Steps[2])
		}
		evs, _ := db.Events(ctx, p.ID, 0, 0)
		var types []string
		for i, e := range evs {
			types = append(types, e.Type)
			if i > 0 && e.ID <= evs[i-1].ID {
				t.Errorf("event IDs %d then %d; want increasing", evs[i-1].ID, e.ID)
			}
		}
		if want := "phase step log step progress step"; strings.Join(types, " ") != want {
			t.Errorf("events = %v; want %s", types, want)
		}
		for _, v := range []int{3, 15} {
			repo := &onramp.Repository{URL: "http://g/shop.git", Branch: "main", Revision: fmt.Sprintf("main@sha1:%d", v)}
			if _, err := db.FinishStep(ctx, p.ID, onramp.StepDone{Step: "create_repository", Progress: v, Repository: repo}); err != nil {
				t.Fatal(err)
			}
		}
		got, _ = db.ProjectByID(ctx, p.ID)
		if got.Progress != 15 {
			t.Errorf("progress = %d after 5, 3, 15; want 15 (never backwards)", got.Progress)
		}
		if s := got.Steps[0]; s.Status != onramp.StepSucceeded || s.StartedAt == nil || s.FinishedAt == nil {
			t.Errorf("step = %+v; want succeeded with times", s)
		}
		if got.Repository.URL != "http://g/shop.git" || got.Repository.Revision != "main@sha1:15" {
			t.Errorf("repository after FinishStep = %+v; want the last step end's", got.Repository)
		}
		if err := db.SetRepository(ctx, p.ID, onramp.Repository{URL: "http://g/shop.git", Branch: "main", Revision: "main@sha1:abc"}); err != nil {
			t.Fatal(err)
		}
		if got, _ = db.ProjectByID(ctx, p.ID); got.Repository.Revision != "main@sha1:abc" {
			t.Errorf("repository after SetRepository = %+v", got.Repository)
		}
		if err := db.FailStep(ctx, p.ID, "create_repository", "git down", "start git"); err != nil {
			t.Fatal(err)
		}
		if err := db.ChangePhase(ctx, p.ID, onramp.PhaseInitializing, onramp.PhaseFailed); err != nil {
			t.Fatal(err)
		}
		got, _ = db.ProjectByID(ctx, p.ID)
		if got.Phase != onramp.PhaseFailed || got.Steps[1].Error != "git down" || got.Steps[1].Hint != "start git" {
			t.Errorf("after failure: phase %s step %+v", got.Phase, got.Steps[1])
		}
		if _, err := db.RequestRetry(ctx, "alice", "shop"); err != nil {
			t.Fatalf("RequestRetry: %v", err)
		}
		if got, _ = db.ProjectByID(ctx, p.ID); got.Phase != onramp.PhaseInitializing {
			t.Errorf("phase after retry = %s; want initializing", got.Phase)
		}
		if _, err := db.RequestRetry(ctx, "alice", "shop"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("retry while initializing err = %v; want conflict", err)
		}
		if _, err := db.RequestDelete(ctx, "alice", "shop", onramp.DeleteOptions{}); err != nil {
			t.Fatalf("RequestDelete: %v", err)
		}
		got, _ = db.ProjectByID(ctx, p.ID)
		if got.Phase != onramp.PhaseDeleting || len(got.Steps) != len(onramp.InitSteps)+len(onramp.DeleteSteps) {
			t.Errorf("after delete request: phase %s, %d steps", got.Phase, len(got.Steps))
		}
		if err := db.RemoveProject(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindProject(ctx, "alice", "shop"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("after removal err = %v; want not found", err)
		}
	})
}

func TestListPagination(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 1000
		for i := range n {
			p := newProject(fmt.Sprintf("p%04d", i))
			p.Environments = p.Environments[:1]
			if err := db.CreateProject(ctx, "alice", p); err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
		}
		if err := db.CreateProject(ctx, "bob", newProject("bobs")); err != nil {
			t.Fatal(err)
		}
		var names []string
		cursor := ""
		for pages := 0; ; pages++ {
			ps, next, err := db.ListProjects(ctx, "alice", onramp.ProjectFilter{Limit: 70, Cursor: cursor})
			if err != nil {
				t.Fatalf("ListProjects: %v", err)
			}
			for _, p := range ps {
				names = append(names, p.Name)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(names) != n {
			t.Fatalf("listed %d projects; want %d", len(names), n)
		}
		for i, name := range names {
			if want := fmt.Sprintf("p%04d", n-1-i); name != want {
				t.Fatalf("names[%d] = %q; want %q (newest first, no gaps or repeats)", i, name, want)
			}
		}
		if _, _, err := db.ListProjects(ctx, "alice", onramp.ProjectFilter{Cursor: "!!"}); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("bad cursor err = %v; want invalid", err)
		}
	})
}

// Fifty concurrent creates of one name: exactly one wins.
func TestConcurrentCreate(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		var wg sync.WaitGroup
		errs := make([]error, 50)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.CreateProject(context.Background(), fmt.Sprintf("user%d", i%3), newProject("race"))
			}()
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch onramp.ErrorCode(err) {
			case "":
				ok++
			case onramp.ECONFLICT:
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != 49 {
			t.Errorf("%d created, %d conflicts; want 1 and 49", ok, conflicts)
		}
	})
}

// Processes starting together on a new database migrate it once, without
// tripping over each other.
func TestConcurrentMigrate(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			url := storetest.URL(t, engine)
			errs := make(chan error, 4)
			for range 4 {
				go func() {
					db, err := store.Open(context.Background(), url)
					if err == nil {
						err = db.Migrate(context.Background())
						db.Close()
					}
					errs <- err
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					t.Errorf("Migrate: %v", err)
				}
			}
		})
	}
}
