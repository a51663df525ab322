package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

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
		if _, err := db.RequestDelete(ctx, "alice", "deleted", onramp.DeleteOptions{}); err != nil {
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
