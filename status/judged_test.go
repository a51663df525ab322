package status_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/status"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

// TestJudgedAtHundred: the status watcher records what Flux says of a
// project's objects while it initializes, whichever process runs the job,
// and the transaction that writes 100% judges the phase from those records
// at once. The project lives in a database of its own, with no workers, so
// that only the watcher and this test write.
func TestJudgedAtHundred(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := storetest.Open(t, store.SQLite)
	k, err := kube.New(clustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	name := storetest.Name("judged")
	p := &onramp.Project{Name: name, Template: "web-service", Environments: []onramp.Environment{{
		Name: "development", Type: onramp.Development, Namespace: onramp.Namespace(name, "development"),
		Path: "./deploy/overlays/development", Interval: onramp.Duration(onramp.Development.Interval()),
	}}}
	if err := db.CreateProject(ctx, "alice", p); err != nil {
		t.Fatal(err)
	}
	w := &status.Watcher{Store: db, Kube: k, Trees: &gitserver.Provider{Root: t.TempDir()}, Logger: slog.New(slog.DiscardHandler)}
	go w.Run(ctx)
	t.Cleanup(func() {
		if err := k.DeleteProject(context.Background(), name, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	// Objects whose source cannot be cloned: Flux fails the GitRepository
	// soon after it is applied.
	spec := kube.EnvironmentSpec{Project: name, Environment: "development", Type: onramp.Development, Path: "./deploy/overlays/development",
		GitURL: "http://127.0.0.1:1/" + name + ".git", Branch: "main", Username: onramp.GitReadUser, Password: "unused", Revision: "main@sha1:0"}
	if _, err := k.ApplyEnvironment(ctx, spec, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Until(t, time.Minute, "the GitRepository's failure recorded while initializing", func() bool {
		rs, _ := db.Resources(ctx, p.ID)
		for _, r := range rs {
			if r.Kind == onramp.KindGitRepository && r.Status == onramp.StatusFailed {
				return true
			}
		}
		return false
	})
	if cur, _ := db.ProjectByID(ctx, p.ID); cur.Phase != onramp.PhaseInitializing {
		t.Fatalf("phase while initializing = %s; the pipeline owns it until 100%%", cur.Phase)
	}
	phase, err := db.FinishStep(ctx, p.ID, onramp.StepDone{Step: "finalize", Progress: 100})
	if err != nil || phase != onramp.PhaseDegraded {
		t.Errorf("FinishStep at 100%% = %s, %v; want degraded, judged from the failure recorded before", phase, err)
	}
	cur, _ := db.ProjectByID(ctx, p.ID)
	if cur.Phase != onramp.PhaseDegraded || cur.Environments[0].Status != onramp.StatusFailed {
		t.Errorf("after 100%%: phase %s, environment %s; want degraded and failed", cur.Phase, cur.Environments[0].Status)
	}
}
