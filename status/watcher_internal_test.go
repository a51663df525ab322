package status

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// racingStore is the real store; during its first record it lets more
// events of the project arrive, as a watch can.
type racingStore struct {
	*store.DB
	calls [][]onramp.Resource
	live  func()
}

func (s *racingStore) UpsertResources(ctx context.Context, projectID int64, rs ...onramp.Resource) (bool, error) {
	s.calls = append(s.calls, rs)
	if len(s.calls) == 1 {
		s.live()
	}
	return s.DB.UpsertResources(ctx, projectID, rs...)
}

// TestObservationsInOrder: observations that arrive while a project's
// are being written are written next, together, by the same writer, so a
// newer state is never overwritten by an older one.
func TestObservationsInOrder(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			s := &racingStore{DB: storetest.Open(t, engine)}
			p := createProject(t, s.DB, "order")
			if err := s.ChangePhase(ctx, p.ID, onramp.PhaseInitializing, onramp.PhaseProvisioned); err != nil {
				t.Fatal(err)
			}
			w := &Watcher{Store: s, Logger: slog.New(slog.DiscardHandler), Trees: noTrees{}}
			first := onramp.Resource{Kind: onramp.KindKustomization, Name: p.Name, Namespace: p.Environments[0].Namespace, Environment: "development",
				Status: onramp.StatusReconciling, Reason: "Progressing", ObservedAt: time.Now()}
			ns := onramp.Resource{Kind: onramp.KindNamespace, Name: p.Environments[0].Namespace, Environment: "development",
				Status: onramp.StatusReady, Reason: "Exists", ObservedAt: time.Now()}
			newer := first
			newer.Status, newer.Reason = onramp.StatusReady, "ReconciliationSucceeded"
			s.live = func() {
				w.observe(ctx, p.Name, ns)
				w.observe(ctx, p.Name, newer)
			}
			w.observe(ctx, p.Name, first)
			<-w.recorded(p.Name)
			if len(s.calls) != 2 || len(s.calls[1]) != 2 || s.calls[1][1].Status != onramp.StatusReady {
				t.Fatalf("records = %+v; want the first state, then the two that came while it was written, together", s.calls)
			}
			rs, err := s.Resources(ctx, p.ID)
			if err != nil || len(rs) != 2 {
				t.Fatalf("recorded %+v, %v; want the Kustomization and the Namespace", rs, err)
			}
			for _, r := range rs {
				if r.Status != onramp.StatusReady {
					t.Errorf("%s recorded %s; want the newer state, ready", r.Kind, r.Status)
				}
			}
			if len(w.pending) != 0 {
				t.Errorf("pending after every observation is recorded: %v", w.pending)
			}
		})
	}
}

type noTrees struct{}

func (noTrees) ListTree(context.Context, string) ([]string, error) { return nil, nil }

// createProject creates a project of one development environment.
func createProject(t *testing.T, db *store.DB, prefix string) *onramp.Project {
	t.Helper()
	name := storetest.Name(prefix)
	p := &onramp.Project{Name: name, Template: "web-service", Environments: []onramp.Environment{
		{Name: "development", Type: onramp.Development, Namespace: name + "-development", Path: "./deploy"}}}
	if err := db.CreateProject(context.Background(), "alice", p); err != nil {
		t.Fatal(err)
	}
	return p
}
