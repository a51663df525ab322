package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

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
		got, err := db.RequestDelete(ctx, "alice", "down", onramp.DeleteOptions{})
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
