package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/secrets"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// Every test runs against each engine: one conformance suite.
func forEachEngine(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, engine))
		})
	}
}

func newProject(name string) *onramp.Project {
	p := &onramp.Project{Name: name, Template: "web-service", Params: map[string]string{"image": "nginx"}}
	for _, typ := range []onramp.EnvironmentType{onramp.Development, onramp.Staging, onramp.Production} {
		p.Environments = append(p.Environments, onramp.Environment{
			Name: string(typ), Type: typ, Namespace: onramp.Namespace(name, string(typ)),
			Path: "./deploy/overlays/" + string(typ), Interval: onramp.Duration(typ.Interval()),
		})
	}
	return p
}

// mustCreate stores the projects for alice, failing the test if it cannot.
func mustCreate(t *testing.T, db *store.DB, ps ...*onramp.Project) {
	t.Helper()
	for _, p := range ps {
		if err := db.CreateProject(context.Background(), "alice", p); err != nil {
			t.Fatalf("CreateProject(%s): %v", p.Name, err)
		}
	}
}

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
		if _, err := db.RequestDelete(ctx, "alice", "shop"); err != nil {
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

// TestUpsertResourcesTogether: the watcher's catch-up records several
// objects in one call; of two states of one object the last counts, an
// unchanged one is left alone, and only changes of status are transitions.
func TestUpsertResourcesTogether(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("batch")
		mustCreate(t, db, p)
		at := time.Now()
		res := func(kind, name string, s onramp.ResourceStatus, reason string) onramp.Resource {
			return onramp.Resource{Kind: kind, Name: name, Namespace: "batch-development", Environment: "development",
				Status: s, Reason: reason, ObservedAt: at}
		}
		if _, err := db.UpsertResources(ctx, p.ID, res(onramp.KindGitRepository, "batch", onramp.StatusReady, "Succeeded")); err != nil {
			t.Fatal(err)
		}
		changed, err := db.UpsertResources(ctx, p.ID,
			res(onramp.KindGitRepository, "batch", onramp.StatusReady, "Succeeded"), // unchanged
			res(onramp.KindKustomization, "batch", onramp.StatusReconciling, "Progressing"),
			res(onramp.KindNamespace, "batch-development", onramp.StatusReady, "Exists"),
			res(onramp.KindKustomization, "batch", onramp.StatusReady, "ReconciliationSucceeded")) // the last state counts
		if err != nil || !changed {
			t.Fatalf("UpsertResources = %v, %v; want changed", changed, err)
		}
		rs, err := db.Resources(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, r := range rs {
			got[r.Kind] = string(r.Status) + "/" + r.Reason
		}
		want := map[string]string{onramp.KindGitRepository: "ready/Succeeded", onramp.KindKustomization: "ready/ReconciliationSucceeded", onramp.KindNamespace: "ready/Exists"}
		if len(rs) != 3 || !maps.Equal(got, want) {
			t.Errorf("resources = %v; want %v", got, want)
		}
		hist, err := db.History(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 3 {
			t.Errorf("history = %+v; want 3 transitions, one per object", hist)
		}
		events, err := db.Events(ctx, p.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(events); n != 4 { // phase, and one resource event per change
			t.Errorf("%d events; want 4", n)
		}
		if changed, err := db.UpsertResources(ctx, p.ID, res(onramp.KindNamespace, "batch-development", onramp.StatusReady, "Exists")); changed || err != nil {
			t.Errorf("an unchanged state recorded again: changed = %v, %v", changed, err)
		}
	})
}

func TestResourcesAndHistory(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("hist")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		steps := []onramp.ResourceStatus{onramp.StatusReconciling, onramp.StatusReconciling, onramp.StatusReady, onramp.StatusFailed, onramp.StatusFailed, onramp.StatusReady}
		wantChanged := []bool{true, false, true, true, false, true}
		for i, s := range steps {
			changed, err := db.UpsertResources(ctx, p.ID, onramp.Resource{Kind: onramp.KindKustomization, Name: "hist", Namespace: "hist-development",
				Environment: "development", Status: s, Reason: string(s), ObservedAt: at.Add(time.Duration(i) * time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			if changed != wantChanged[i] {
				t.Errorf("upsert %d (%s) changed = %v; want %v", i, s, changed, wantChanged[i])
			}
		}
		// The pipeline's record of an applied object never overwrites the
		// watcher's newer observation, but does replace "missing".
		ns := onramp.Resource{Kind: onramp.KindNamespace, Name: "hist-development", Environment: "development", Status: onramp.StatusReady, ObservedAt: at}
		db.UpsertResources(ctx, p.ID, ns)
		db.RecordApplied(ctx, p.ID, onramp.Applied{Resources: []onramp.Resource{{Kind: onramp.KindKustomization, Name: "hist", Namespace: "hist-development", Environment: "development", Status: onramp.StatusPending, ObservedAt: at}}})
		// Resources sort by environment, kind and name.
		if rs, _ := db.Resources(ctx, p.ID); rs[0].Kind != onramp.KindKustomization || rs[0].Status != onramp.StatusReady {
			t.Errorf("RecordApplied overwrote the watcher's status: %+v", rs)
		}
		ns.Status = onramp.StatusMissing
		db.UpsertResources(ctx, p.ID, ns)
		ns.Status = onramp.StatusReady
		db.RecordApplied(ctx, p.ID, onramp.Applied{Resources: []onramp.Resource{ns}})
		if rs, _ := db.Resources(ctx, p.ID); rs[1].Kind != onramp.KindNamespace || rs[1].Status != onramp.StatusReady {
			t.Errorf("RecordApplied did not replace missing: %+v", rs)
		}
		hist, err := db.ProjectHistory(ctx, "alice", "hist")
		if err != nil {
			t.Fatal(err)
		}
		want := []onramp.ResourceStatus{onramp.StatusReconciling, onramp.StatusReady, onramp.StatusFailed, onramp.StatusReady, onramp.StatusReady, onramp.StatusMissing, onramp.StatusReady}
		if len(hist) != len(want) {
			t.Fatalf("history = %+v; want %d transitions", hist, len(want))
		}
		for i, tr := range hist {
			if tr.To != want[i] {
				t.Errorf("transition %d = %s→%s; want →%s", i, tr.From, tr.To, want[i])
			}
		}
		got, _ := db.ProjectByID(ctx, p.ID)
		if got.GitOps.Kustomizations != 1 || got.GitOps.Namespaces != 1 || got.GitOps.Resources[0].Status != onramp.StatusReady {
			t.Errorf("gitops = %+v", got.GitOps)
		}
		if err := db.Log(ctx, p.ID, "verify", "info", "3 namespaces"); err != nil {
			t.Fatal(err)
		}
		logs, _ := db.ProjectLogs(ctx, "alice", "hist", 0)
		if len(logs) != 1 || logs[0].Message != "3 namespaces" {
			t.Errorf("logs = %+v", logs)
		}
		events, err := db.Events(ctx, p.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// phase, 4 Kustomization changes, 3 Namespace changes, log.
		if len(events) != 9 || events[0].Type != onramp.EventPhase || events[8].Type != onramp.EventLog {
			t.Errorf("events = %d %+v", len(events), events)
		}
		for i := 1; i < len(events); i++ {
			if events[i].ID <= events[i-1].ID {
				t.Errorf("event IDs not increasing: %d then %d", events[i-1].ID, events[i].ID)
			}
		}
		after, _ := db.Events(ctx, p.ID, events[2].ID, 0)
		if len(after) != len(events)-3 || after[0].ID != events[3].ID {
			t.Errorf("events after %d = %+v", events[2].ID, after)
		}

		// The owner's stream reads the same events by name.
		owned, err := db.ProjectEvents(ctx, "alice", "hist", events[2].ID, 0)
		if err != nil || !reflect.DeepEqual(owned, after) {
			t.Errorf("ProjectEvents after %d = %+v, %v; want %+v", events[2].ID, owned, err, after)
		}
		if two, err := db.ProjectEvents(ctx, "alice", "hist", 0, 2); err != nil || len(two) != 2 || two[1].ID != events[1].ID {
			t.Errorf("ProjectEvents limit 2 = %+v, %v; want the first two", two, err)
		}
		if none, err := db.ProjectEvents(ctx, "alice", "hist", events[8].ID, 0); err != nil || len(none) != 0 {
			t.Errorf("ProjectEvents after the last = %+v, %v; want none and no error", none, err)
		}
		for _, who := range [][2]string{{"bob", "hist"}, {"alice", "nope"}} {
			if _, err := db.ProjectEvents(ctx, who[0], who[1], 0, 0); onramp.ErrorCode(err) != onramp.ENOTFOUND {
				t.Errorf("ProjectEvents(%s, %s) = %v; want ENOTFOUND", who[0], who[1], err)
			}
		}
	})
}

// A deletion marks every environment deleting, and removes the records
// of each kind as it goes, with a resource event for each object.
func TestDeletionCountsDown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("down")
		mustCreate(t, db, p)
		var applied []onramp.Resource
		for _, e := range p.Environments {
			for _, kind := range []string{onramp.KindNamespace, onramp.KindKustomization} {
				applied = append(applied, onramp.Resource{Kind: kind, Name: "down", Namespace: e.Namespace, Environment: e.Name, Status: onramp.StatusReady, ObservedAt: time.Now()})
			}
		}
		if err := db.RecordApplied(ctx, p.ID, onramp.Applied{Resources: applied}); err != nil {
			t.Fatal(err)
		}
		before, _ := db.Events(ctx, p.ID, 0, 0)
		got, err := db.RequestDelete(ctx, "alice", "down")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got.Environments {
			if e.Status != onramp.StatusDeleting {
				t.Errorf("environment %s after the delete request: %s; want deleting", e.Name, e.Status)
			}
		}
		// An initialization the request interrupted records what it
		// applied; the environment stays deleting.
		if err := db.RecordApplied(ctx, p.ID, onramp.Applied{Environment: p.Environments[0].Name, Status: onramp.StatusReconciling}); err != nil {
			t.Fatal(err)
		}
		if got, _ = db.ProjectByID(ctx, p.ID); got.Environments[0].Status != onramp.StatusDeleting {
			t.Errorf("environment %s after a late record: %s; want deleting", got.Environments[0].Name, got.Environments[0].Status)
		}
		if err := db.RemoveResources(ctx, p.ID, onramp.KindKustomization); err != nil {
			t.Fatal(err)
		}
		got, _ = db.ProjectByID(ctx, p.ID)
		if got.GitOps.Kustomizations != 0 || got.GitOps.Namespaces != len(p.Environments) {
			t.Errorf("after removing the Kustomizations' records: %d kustomizations, %d namespaces; want 0 and %d",
				got.GitOps.Kustomizations, got.GitOps.Namespaces, len(p.Environments))
		}
		events, _ := db.Events(ctx, p.ID, before[len(before)-1].ID, 0)
		var deleted []string
		for _, e := range events {
			var r onramp.Resource
			if e.Type == onramp.EventResource && json.Unmarshal(e.Data, &r) == nil && r.Status == onramp.StatusDeleted {
				deleted = append(deleted, r.Kind+" "+r.Namespace+"/"+r.Name+" "+r.Environment)
			}
		}
		var want []string
		for _, e := range p.Environments {
			want = append(want, onramp.KindKustomization+" "+e.Namespace+"/down "+e.Name)
		}
		slices.Sort(deleted)
		slices.Sort(want)
		if !slices.Equal(deleted, want) {
			t.Errorf("deleted resource events = %q; want %q", deleted, want)
		}
	})
}

func TestTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tok, err := db.CreateToken(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		u, err := db.Authenticate(ctx, tok)
		if err != nil || u.Name != "alice" {
			t.Fatalf("Authenticate = %v, %v; want alice", u, err)
		}
		for _, bad := range []string{"", "x", tok + "x", tok[:len(tok)-1], "onr_nope_nope"} {
			if _, err := db.Authenticate(ctx, bad); onramp.ErrorCode(err) != onramp.EUNAUTHORIZED {
				t.Errorf("Authenticate(%q) err = %v; want unauthorized", bad, err)
			}
		}
		var stored int
		db.SQL().QueryRow(`SELECT count(*) FROM tokens`).Scan(&stored)
		var leaked int
		db.SQL().QueryRow(`SELECT count(*) FROM tokens WHERE hash = ?`, tok).Scan(&leaked)
		if stored != 1 || leaked != 0 {
			t.Errorf("tokens stored %d, in clear %d", stored, leaked)
		}
		if _, err := db.CreateToken(ctx, "Not A Name"); onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("CreateToken(bad) err = %v; want invalid", err)
		}
	})
}

func TestCredentials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("cred")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		v1, err := db.EnsureCredential(ctx, p.ID, "git-read", func() string { return "s3cret-one" })
		if err != nil {
			t.Fatal(err)
		}
		v2, _ := db.EnsureCredential(ctx, p.ID, "git-read", func() string { return "other" })
		if v1 != "s3cret-one" || v2 != v1 {
			t.Errorf("EnsureCredential = %q then %q; want the first value kept", v1, v2)
		}
		var raw []byte
		db.SQL().QueryRow(`SELECT ciphertext FROM credentials`).Scan(&raw)
		if len(raw) == 0 || string(raw) == v1 {
			t.Errorf("credential stored in clear or not at all: %q", raw)
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

// failingInserter inserts the job for real, then fails, so the transaction
// that wrote the project and the job rolls back.
type failingInserter struct {
	store.JobClient
	jobID int64
}

func (f *failingInserter) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := f.JobClient.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, err
	}
	f.jobID = res.Job.ID
	return nil, errors.New("injected failure after the job insert")
}

func TestTransactionalEnqueue(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		queue := db.Jobs.(*store.Queue)
		// Committed: the project and its job exist together.
		p := newProject("committed")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		jobs, err := queue.JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
		if err != nil || len(jobs.Jobs) != 1 {
			t.Fatalf("jobs after create = %v, %v; want 1", jobs, err)
		}
		// Rolled back: neither exists.
		f := &failingInserter{JobClient: queue}
		db.Jobs = f
		if err := db.CreateProject(ctx, "alice", newProject("rolled")); err == nil {
			t.Fatal("CreateProject succeeded; want the injected failure")
		}
		db.Jobs = queue
		if f.jobID == 0 {
			t.Fatal("the job was never inserted")
		}
		if _, err := db.FindProject(ctx, "alice", "rolled"); onramp.ErrorCode(err) != onramp.ENOTFOUND {
			t.Errorf("project after rollback: err = %v; want not found", err)
		}
		if _, err := queue.JobGet(ctx, f.jobID); !errors.Is(err, rivertype.ErrNotFound) {
			t.Errorf("job %d after rollback: err = %v; want not found", f.jobID, err)
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

// A retry asked while an earlier run may still be finishing is a job of its
// own: it must not be dropped as a duplicate.
func TestRetriesAreNotDropped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("twice")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		db.FinishStep(ctx, p.ID, onramp.StepDone{Step: "finalize", Progress: 100})
		db.ChangePhase(ctx, p.ID, onramp.PhaseProvisioned, onramp.PhaseDegraded)
		for range 2 {
			if _, err := db.RequestRetry(ctx, "alice", "twice"); err != nil {
				t.Fatal(err)
			}
		}
		jobs, err := db.Jobs.(*store.Queue).JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
		if err != nil || len(jobs.Jobs) != 3 {
			t.Errorf("initialize jobs = %d (%v); want the creation's and one per retry", len(jobs.Jobs), err)
		}
	})
}

// FinishStep answers the project's phase as its transaction leaves it: a
// running job learns of a deletion, and of 100% making it provisioned,
// without another read.
func TestFinishStepReturnsPhase(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		done, deleted := newProject("done"), newProject("deleted")
		mustCreate(t, db, done, deleted)
		step := onramp.StepDone{Step: "render_template", Progress: 5, Next: "create_repository"}
		if phase, err := db.FinishStep(ctx, deleted.ID, step); err != nil || phase != onramp.PhaseInitializing {
			t.Errorf("FinishStep = %s, %v; want initializing", phase, err)
		}
		if _, err := db.RequestDelete(ctx, "alice", "deleted"); err != nil {
			t.Fatal(err)
		}
		step = onramp.StepDone{Step: "create_repository", Progress: 10, Next: "push_commit"}
		if phase, err := db.FinishStep(ctx, deleted.ID, step); err != nil || phase != onramp.PhaseDeleting {
			t.Errorf("FinishStep after a delete request = %s, %v; want deleting", phase, err)
		}
		if phase, err := db.FinishStep(ctx, done.ID, onramp.StepDone{Step: "finalize", Progress: 100}); err != nil || phase != onramp.PhaseProvisioned {
			t.Errorf("FinishStep at 100%% = %s, %v; want provisioned", phase, err)
		}
	})
}

// Changed wakes the followers of the projects whose events a commit wrote,
// and of a project removed, and leaves the others asleep.
func TestChangedWakesOnlyTheProject(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, b := newProject("woken"), newProject("asleep")
		mustCreate(t, db, a, b)
		closed := func(ch <-chan struct{}) bool {
			select {
			case <-ch:
				return true
			default:
				return false
			}
		}
		wa, wb := db.Changed(a.ID), db.Changed(b.ID)
		if closed(wa) || closed(wb) {
			t.Fatal("Changed closed before any commit")
		}
		if err := db.Log(ctx, a.ID, "", "info", "hello"); err != nil {
			t.Fatal(err)
		}
		if !closed(wa) {
			t.Error("a commit of the project's event did not wake its follower")
		}
		if closed(wb) {
			t.Error("another project's commit woke this one's follower")
		}
		if again := db.Changed(a.ID); closed(again) {
			t.Error("Changed after the wake is already closed; want it open until the next commit")
		}
		if err := db.RemoveProject(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if !closed(wb) {
			t.Error("removing the project did not wake its follower")
		}
	})
}

// On PostgreSQL a replica's event streams wake at another replica's
// commits of their project's events, and at its removal, without waiting
// for their poll; other projects' commits leave them asleep.
func TestChangedWakesAcrossProcesses(t *testing.T) {
	url := storetest.URL(t, store.Postgres)
	serving, working := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
	ctx := context.Background()
	a, b := newProject("across"), newProject("elsewhere")
	mustCreate(t, working, a, b)
	wait := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not wake the other process's follower", what)
		}
	}
	// Listening wakes every follower once, when it starts: what was
	// committed before may have been missed.
	ready := serving.Changed(a.ID)
	serving.Listen(slog.New(slog.DiscardHandler))
	wait(ready, "the start of listening")

	wa, wb := serving.Changed(a.ID), serving.Changed(b.ID)
	if err := working.Log(ctx, a.ID, "", "info", "from the worker"); err != nil {
		t.Fatal(err)
	}
	wait(wa, "a commit of the project's event")
	select {
	case <-wb:
		t.Error("another project's commit woke this one's follower")
	case <-time.After(200 * time.Millisecond):
	}
	if err := working.RemoveProject(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	wait(wb, "removing the project")
}

// Steps ended together are one transaction, written in order: the last
// two steps' ends make the project provisioned at 100% at once, and a
// failing end writes nothing of the ends before it.
func TestFinishStepsTogether(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("together")
		mustCreate(t, db, p)
		if err := db.StartStep(ctx, p.ID, "verify"); err != nil {
			t.Fatal(err)
		}
		verify := onramp.StepDone{Step: "verify", Progress: 95, Log: "verified", Next: "finalize"}
		if _, err := db.FinishStep(ctx, p.ID, verify, onramp.StepDone{Step: "nope", Progress: 100}); err == nil {
			t.Fatal("FinishStep with an unknown step succeeded")
		}
		got, _ := db.ProjectByID(ctx, p.ID)
		if got.Progress != 0 || got.Steps[4].Status != onramp.StepRunning {
			t.Errorf("after a failed FinishStep: progress %d, verify %s; want 0 and running (nothing written)", got.Progress, got.Steps[4].Status)
		}
		after, _ := db.Events(ctx, p.ID, 0, 0)
		phase, err := db.FinishStep(ctx, p.ID, verify, onramp.StepDone{Step: "finalize", Progress: 100, Log: "done"})
		if err != nil || phase != onramp.PhaseProvisioned {
			t.Fatalf("FinishStep = %s, %v; want provisioned", phase, err)
		}
		got, _ = db.ProjectByID(ctx, p.ID)
		v, f := got.Steps[4], got.Steps[5]
		if v.Status != onramp.StepSucceeded || f.Status != onramp.StepSucceeded || got.Progress != 100 || got.Phase != onramp.PhaseProvisioned {
			t.Errorf("after FinishStep: %s %s, %s %s, %d%%, %s; want both succeeded, 100%%, provisioned", v.Name, v.Status, f.Name, f.Status, got.Progress, got.Phase)
		}
		if f.StartedAt == nil || v.FinishedAt == nil || !f.StartedAt.Equal(*v.FinishedAt) {
			t.Errorf("finalize started %v, verify ended %v; want the same moment", f.StartedAt, v.FinishedAt)
		}
		evs, _ := db.Events(ctx, p.ID, after[len(after)-1].ID, 0)
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if want := "log step progress step log step progress phase"; strings.Join(types, " ") != want {
			t.Errorf("events = %v; want %s (verify's end, finalize's start, finalize's end)", types, want)
		}
	})
}

// A step's end that names objects which must be recorded writes nothing
// while one is not, and says which; CheckRecorded, outside a step's end,
// answers the same.
func TestFinishStepChecksRecorded(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("checked")
		mustCreate(t, db, p)
		if err := db.StartStep(ctx, p.ID, "verify"); err != nil {
			t.Fatal(err)
		}
		obj := func(kind, name string) onramp.Resource {
			return onramp.Resource{Kind: kind, Name: name, Namespace: "checked-development", Environment: "development", Status: onramp.StatusReady, ObservedAt: time.Now()}
		}
		ns, ks := obj(onramp.KindNamespace, "checked-development"), obj(onramp.KindKustomization, "checked")
		if _, err := db.UpsertResources(ctx, p.ID, ns); err != nil {
			t.Fatal(err)
		}
		end := []onramp.StepDone{
			{Step: "verify", Progress: 95, Next: "finalize", Recorded: []onramp.Resource{ns, ks}},
			{Step: "finalize", Progress: 100},
		}
		_, err := db.FinishStep(ctx, p.ID, end...)
		if onramp.ErrorCode(err) != onramp.ECONFLICT || !strings.Contains(err.Error(), "Kustomization checked-development/checked") {
			t.Fatalf("FinishStep with an unrecorded object = %v; want a conflict naming Kustomization checked-development/checked", err)
		}
		if err := db.CheckRecorded(ctx, p.ID, end[0].Recorded); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("CheckRecorded with an unrecorded object = %v; want a conflict", err)
		}
		got, _ := db.ProjectByID(ctx, p.ID)
		if got.Progress != 0 || got.Phase != onramp.PhaseInitializing || got.Steps[4].Status != onramp.StepRunning {
			t.Errorf("after a refused end: %d%%, %s, verify %s; want 0%%, initializing, running (nothing written)", got.Progress, got.Phase, got.Steps[4].Status)
		}
		if _, err := db.UpsertResources(ctx, p.ID, ks); err != nil {
			t.Fatal(err)
		}
		if err := db.CheckRecorded(ctx, p.ID, end[0].Recorded); err != nil {
			t.Errorf("CheckRecorded with every object recorded = %v", err)
		}
		if phase, err := db.FinishStep(ctx, p.ID, end...); err != nil || phase != onramp.PhaseProvisioned {
			t.Fatalf("FinishStep with every object recorded = %s, %v; want provisioned", phase, err)
		}
	})
}

// An initializing project can be retried only once its initialization job
// has ended without recording an end (here cancelled; in production, its
// worker's process lost on the last attempt): it then resumes, with a log
// line saying why.
func TestRetryResumesALostInitialization(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		queue := db.Jobs.(*store.Queue)
		p := newProject("lost")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RequestRetry(ctx, "alice", "lost"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Fatalf("retry while the initialization job waits: err = %v; want conflict", err)
		}
		live := river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()).States(rivertype.JobStateAvailable)
		jobs, err := queue.JobList(ctx, live)
		if err != nil || len(jobs.Jobs) != 1 {
			t.Fatalf("waiting initialize jobs = %v, %v; want 1", jobs, err)
		}
		if _, err := queue.JobCancel(ctx, jobs.Jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.RequestRetry(ctx, "alice", "lost")
		if err != nil || got.Phase != onramp.PhaseInitializing {
			t.Fatalf("retry after the job ended = %+v, %v; want initializing again", got, err)
		}
		if jobs, err = queue.JobList(ctx, live); err != nil || len(jobs.Jobs) != 1 {
			t.Errorf("waiting initialize jobs after the retry = %v, %v; want 1", jobs, err)
		}
		logs, _ := db.ProjectLogs(ctx, "alice", "lost", 0)
		if len(logs) != 1 || logs[0].Level != "warn" || !strings.Contains(logs[0].Message, "resuming") {
			t.Errorf("log = %+v; want one warning that the initialization resumes", logs)
		}
		if _, err := db.RequestRetry(ctx, "alice", "lost"); onramp.ErrorCode(err) != onramp.ECONFLICT {
			t.Errorf("second retry while the new job waits: err = %v; want conflict", err)
		}
	})
}

// An initializing project whose job has ended (here cancelled) is failed
// by the sweep at the step it stopped in, with the retry that resumes it;
// one whose job still waits is left alone.
func TestFailLostInitializations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		queue := db.Jobs.(*store.Queue)
		lost, waiting := newProject("lost"), newProject("waiting")
		mustCreate(t, db, lost, waiting)
		if _, err := db.FinishStep(ctx, lost.ID, onramp.StepDone{Step: "render_template", Progress: 5, Next: "create_repository"}); err != nil {
			t.Fatal(err)
		}
		jobs, err := queue.JobList(ctx, river.NewJobListParams().Kinds(onramp.InitializeJob{}.Kind()))
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs.Jobs {
			var args onramp.InitializeJob
			if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
				t.Fatal(err)
			}
			if args.ProjectID == lost.ID {
				if _, err := queue.JobCancel(ctx, j.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n, err := db.FailLostInitializations(ctx, time.Hour); err != nil || n != 0 {
			t.Errorf("sweep of projects quiet for an hour = %d, %v; want 0", n, err)
		}
		if n, err := db.FailLostInitializations(ctx, 0); err != nil || n != 1 {
			t.Fatalf("sweep = %d, %v; want 1", n, err)
		}
		got, _ := db.ProjectByID(ctx, lost.ID)
		s := got.Steps[1]
		if got.Phase != onramp.PhaseFailed || s.Name != "create_repository" || s.Status != onramp.StepFailed ||
			!strings.Contains(s.Error, "ended without recording an end") || !strings.Contains(s.Hint, "onramp project retry lost") {
			t.Errorf("lost project after the sweep: %s, step %+v; want failed at create_repository with the retry hint", got.Phase, s)
		}
		if got, _ := db.ProjectByID(ctx, waiting.ID); got.Phase != onramp.PhaseInitializing {
			t.Errorf("project whose job waits: %s; want initializing", got.Phase)
		}
		if _, err := db.RequestRetry(ctx, "alice", "lost"); err != nil {
			t.Fatal(err)
		}
		if n, err := db.FailLostInitializations(ctx, 0); err != nil || n != 0 {
			t.Errorf("sweep after the retry = %d, %v; want 0 (its job waits)", n, err)
		}
	})
}

// TestRecordAppliedBatch records one environment's applied objects at once:
// of three, one the watcher already saw (left alone), one recorded missing
// (replaced) and one new; the two written get a transition and an event
// each, in the order given, after the progress and log line.
func TestRecordAppliedBatch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("batch")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		obj := func(kind, name string, s onramp.ResourceStatus) onramp.Resource {
			return onramp.Resource{Kind: kind, Name: name, Namespace: "batch-development", Environment: "development", Status: s, ObservedAt: at}
		}
		seen := obj(onramp.KindGitRepository, "batch", onramp.StatusReady)
		gone := obj(onramp.KindSecret, "batch-git", onramp.StatusMissing)
		for _, r := range []onramp.Resource{seen, gone} {
			if _, err := db.UpsertResources(ctx, p.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		before, err := db.Events(ctx, p.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		applied := []onramp.Resource{
			obj(onramp.KindSecret, "batch-git", onramp.StatusReady),
			obj(onramp.KindGitRepository, "batch", onramp.StatusReconciling),
			obj(onramp.KindKustomization, "batch", onramp.StatusReconciling),
		}
		err = db.RecordApplied(ctx, p.ID, onramp.Applied{Environment: "development", Resources: applied, Step: "setup_gitops"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]onramp.ResourceStatus{}
		rs, err := db.Resources(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			got[r.Kind] = r.Status
		}
		want := map[string]onramp.ResourceStatus{onramp.KindSecret: onramp.StatusReady, onramp.KindGitRepository: onramp.StatusReady, onramp.KindKustomization: onramp.StatusReconciling}
		if !maps.Equal(got, want) {
			t.Errorf("recorded statuses = %v; want %v", got, want)
		}
		evs, err := db.Events(ctx, p.ID, before[len(before)-1].ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range evs {
			if e.Type == onramp.EventResource {
				var r onramp.Resource
				json.Unmarshal(e.Data, &r)
				kinds = append(kinds, r.Kind+" "+string(r.Status))
			}
		}
		if w := []string{"Secret ready", "Kustomization reconciling"}; !slices.Equal(kinds, w) {
			t.Errorf("resource events = %q; want %q", kinds, w)
		}
		hist, err := db.ProjectHistory(ctx, "alice", "batch")
		if err != nil {
			t.Fatal(err)
		}
		var trs []string
		for _, tr := range hist {
			trs = append(trs, fmt.Sprintf("%s %s→%s", tr.Kind, tr.From, tr.To))
		}
		if w := []string{"GitRepository →ready", "Secret →missing", "Secret missing→ready", "Kustomization →reconciling"}; !slices.Equal(trs, w) {
			t.Errorf("transitions = %q; want %q", trs, w)
		}
	})
}

// The pipeline records an environment's objects in one transaction while
// the status watcher records them one by one and changes the phase: every
// write must succeed (on PostgreSQL, no deadlock between row locks and the
// project's event lock).
func TestConcurrentRecordsDoNotDeadlock(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := newProject("busy")
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		var objs []onramp.Resource
		for _, kind := range []string{onramp.KindNamespace, onramp.KindServiceAccount, onramp.KindRoleBinding, onramp.KindSecret, onramp.KindGitRepository, onramp.KindKustomization} {
			objs = append(objs, onramp.Resource{Kind: kind, Namespace: "busy-development", Name: "busy", Environment: "development", Status: onramp.StatusReconciling, ObservedAt: time.Now()})
		}
		const rounds = 100
		errs := make(chan error, 8*rounds)
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range rounds {
				// Missing rows are rewritten, so each round locks them all.
				errs <- db.RecordApplied(ctx, p.ID, onramp.Applied{Environment: "development", Resources: objs,
					Status: onramp.StatusReconciling, Progress: 30 + i%50, Step: "setup_gitops", Log: "applied"})
			}
		})
		wg.Go(func() {
			phases := []onramp.Phase{onramp.PhaseInitializing, onramp.PhaseDegraded}
			for i := range rounds {
				for j := len(objs) - 1; j >= 0; j-- { // the other order
					r := objs[j]
					r.Status = onramp.StatusMissing
					if _, err := db.UpsertResources(ctx, p.ID, r); err != nil {
						errs <- err
					}
				}
				errs <- db.ChangePhase(ctx, p.ID, phases[i%2], phases[(i+1)%2])
			}
		})
		// A stream reading meanwhile, each time after the last ID it saw,
		// must miss no event: events commit in ID order.
		seen, done := map[int64]bool{}, make(chan struct{})
		var reader sync.WaitGroup
		var last int64 // the reader's
		reader.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				evs, err := db.Events(ctx, p.ID, last, 1000)
				if err != nil {
					errs <- err
					return
				}
				for _, e := range evs {
					seen[e.ID], last = true, e.ID
				}
			}
		})
		wg.Wait()
		close(done)
		reader.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent record: %v", err)
			}
		}
		missed, total := 0, 0
		for after := int64(0); ; {
			evs, err := db.Events(ctx, p.ID, after, 1000)
			if err != nil || len(evs) == 0 {
				break
			}
			for _, e := range evs {
				if e.ID < last && !seen[e.ID] {
					missed++
				}
				after, total = e.ID, total+1
			}
		}
		if missed > 0 || total < 2*rounds {
			t.Errorf("a reader following the events missed %d of the %d before its last: they did not commit in ID order", missed, total)
		}
	})
}

// A process whose secret key differs from the one the database's
// credentials are sealed with is refused before it seals anything.
func TestCheckKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for range 2 { // the first records the key, the second finds it
			if err := db.CheckKey(ctx); err != nil {
				t.Fatalf("CheckKey with the database's key: %v", err)
			}
		}
		other := make([]byte, 32)
		other[0] = 1
		box, err := secrets.New(other)
		if err != nil {
			t.Fatal(err)
		}
		db.Cipher = box
		if err := db.CheckKey(ctx); onramp.ErrorCode(err) != onramp.EINVALID || !strings.Contains(onramp.ErrorMessage(err), "ONRAMP_SECRET_KEY") {
			t.Errorf("CheckKey with another key = %v; want invalid, naming ONRAMP_SECRET_KEY", err)
		}
	})
}

// startWorkers starts a queue on db whose initialization worker reports
// each project it is given, with the workers' own poll set to 2 s. It has
// more workers than the tests run jobs at once, as onramp has: with every
// worker busy, River looks for more jobs as soon as one is free, which
// would hide a job it was not told about. The
// returned stop fails the test if the queue does not stop within 10 s.
func startWorkers(t testing.TB, db *store.DB) (ran <-chan int64, stop func()) {
	t.Helper()
	runs := make(chan int64, 4)
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[onramp.InitializeJob]) error {
		runs <- job.Args.ProjectID
		return nil
	}))
	q, err := store.OpenQueue(context.Background(), db, store.QueueOptions{Workers: workers, MaxWorkers: 4, Poll: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the workers' first look at start
	return runs, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop the queue: %v", err)
		}
	}
}

// BenchmarkEnqueueToStart measures a project's create → its initialization
// job running in a worker of the same process, with the queue idle when
// the project is created (as a create usually finds it): between
// creates, the previous job completes and the workers' own look for more
// work after it is over.
func BenchmarkEnqueueToStart(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storetest.Open(b, engine)
			ran, stop := startWorkers(b, db)
			defer stop()
			i := 0
			var cr time.Duration
			defer func() { b.ReportMetric(float64(cr.Microseconds())/float64(i), "create-us") }()
			for b.Loop() {
				i++
				t0 := time.Now()
				if err := db.CreateProject(context.Background(), "alice", newProject(fmt.Sprintf("bench%d", i))); err != nil {
					b.Fatal(err)
				}
				cr += time.Since(t0)
				<-ran
				b.StopTimer()
				time.Sleep(100 * time.Millisecond)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkFinishStep measures one step's end: its log line, the step
// done, progress raised and the next step started, in one transaction.
func BenchmarkFinishStep(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storetest.Open(b, engine)
			ctx := context.Background()
			p := newProject("finish")
			if err := db.CreateProject(ctx, "alice", p); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				d := onramp.StepDone{Step: "render_template", Progress: 10, Log: "rendered", Next: "create_repository"}
				if _, err := db.FinishStep(ctx, p.ID, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecordApplied measures the record of one environment's six
// applied objects (what setup_gitops writes per environment): a new
// project each time, so that every object is written.
func BenchmarkRecordApplied(b *testing.B) {
	for _, engine := range storetest.Engines() {
		b.Run(engine, func(b *testing.B) {
			db := storetest.Open(b, engine)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				p := newProject(fmt.Sprintf("rec-%d", i))
				if err := db.CreateProject(ctx, "alice", p); err != nil {
					b.Fatal(err)
				}
				var objs []onramp.Resource
				for _, kind := range []string{onramp.KindNamespace, onramp.KindServiceAccount, onramp.KindRoleBinding, onramp.KindSecret, onramp.KindGitRepository, onramp.KindKustomization} {
					objs = append(objs, onramp.Resource{Kind: kind, Namespace: p.Name + "-development", Name: p.Name, Environment: "development", Status: onramp.StatusReconciling, ObservedAt: time.Now()})
				}
				b.StartTimer()
				err := db.RecordApplied(ctx, p.ID, onramp.Applied{Environment: "development", Resources: objs,
					Status: onramp.StatusReconciling, Progress: 40, Step: "setup_gitops", Log: "applied"})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
