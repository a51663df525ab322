package status

import (
	"context"
	"log/slog"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// TestNoFlapAtReconcile runs real Flux with a 2-second interval: every
// interval Flux says Ready=Unknown for a moment, which is no change of
// state. Over several intervals the project stays ready, with no
// transition, no phase event and the time it was last reconciled moving
// on; then a real failure (a path the repository does not have) shows at
// once.
func TestNoFlapAtReconcile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := storetest.Open(t, store.SQLite)
	k, err := kube.New(clustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	p := createProject(t, db, "steady")
	env := p.Environments[0]
	const password = "flux-reads"
	repo := clustertest.NewGitServer(t, onramp.GitReadUser, password).NewRepo(t, p.Name)
	rev := "main@sha1:" + repo.Push(t, map[string]string{
		"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- configmap.yaml\n",
		"deploy/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  greeting: hello\n",
	})
	spec := kube.EnvironmentSpec{Project: p.Name, Environment: env.Name, Type: env.Type, Namespace: env.Namespace, Path: "./deploy",
		Interval: 2 * time.Second, GitURL: repo.URL, Branch: "main", Revision: rev, Username: onramp.GitReadUser, Password: password}
	if _, err := k.ApplyEnvironment(ctx, spec, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.DeleteProject(context.Background(), p.Name, nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if _, err := db.FinishStep(ctx, p.ID, onramp.StepDone{Step: "finalize", Progress: 100}); err != nil {
		t.Fatal(err)
	}
	w := &Watcher{Store: db, Kube: k, Trees: noTrees{}, Logger: slog.New(slog.DiscardHandler)}
	go w.Run(ctx)
	testutil.Until(t, time.Minute, "ready", func() bool { return phase(t, db, p.ID) == onramp.PhaseReady })

	before, err := db.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	lastEvent := lastEventID(t, db, p.ID)
	reconciled := kustomization(t, db, p.ID).ObservedAt
	for end := time.Now().Add(9 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ph := phase(t, db, p.ID); ph != onramp.PhaseReady {
			t.Fatalf("phase %s while Flux only reconciled again", ph)
		}
	}
	after, err := db.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d transitions over 4 reconciles of an unchanged revision: %+v", len(after)-len(before), after[len(before):])
	}
	events, err := db.Events(ctx, p.ID, lastEvent, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Type == onramp.EventPhase || e.Type == onramp.EventResource {
			t.Errorf("%s event over reconciles of an unchanged revision: %s", e.Type, e.Data)
		}
	}
	if now := kustomization(t, db, p.ID).ObservedAt; !now.After(reconciled) {
		t.Errorf("Kustomization last reconciled %s, as before the reconciles; want later", now)
	}

	// A real failure: a path the repository does not have.
	kc, err := client.New(clustertest.Config(t), client.Options{Scheme: fluxScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	var ks kustomizev1.Kustomization
	if err := kc.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: p.Name}, &ks); err != nil {
		t.Fatal(err)
	}
	// A patch, not an update: the controller writes the status between our read
	// and our write, and an update would conflict on the resourceVersion.
	orig := ks.DeepCopy()
	ks.Spec.Path = "./missing"
	broke := time.Now()
	if err := kc.Patch(ctx, &ks, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	testutil.Until(t, 30*time.Second, "degraded", func() bool { return phase(t, db, p.ID) == onramp.PhaseDegraded })
	t.Logf("a real failure was recorded %s after the change that caused it", time.Since(broke).Round(time.Millisecond))
}

func phase(t *testing.T, db *store.DB, id int64) onramp.Phase {
	t.Helper()
	p, err := db.ProjectByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Phase
}

func kustomization(t *testing.T, db *store.DB, id int64) onramp.Resource {
	t.Helper()
	rs, err := db.Resources(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Kind == onramp.KindKustomization {
			return r
		}
	}
	t.Fatal("no Kustomization recorded")
	return onramp.Resource{}
}

func lastEventID(t *testing.T, db *store.DB, id int64) int64 {
	t.Helper()
	events, err := db.Events(context.Background(), id, 0, 1000)
	if err != nil || len(events) == 0 {
		t.Fatalf("events: %v", err)
	}
	return events[len(events)-1].ID
}

func fluxScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := kustomizev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
