package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/templates"
)

// object names one Kustomization.
type object struct{ ns, name string }

// watcher measures what following m.n Kustomizations costs the status
// watcher. m.n/3 projects of three environments are stored (phase
// provisioned) in the SQLite database of the server to come, and m.n
// Kustomizations labelled as onramp's, one per project and environment,
// are created in three namespaces: suspended, pointing at a GitRepository
// that does not exist, and with Flux's finalizer already set, so that Flux
// writes nothing to them. Then, one after the other:
//
//   - informers: kube.Client.Watch in this program with callbacks that only
//     count, the floor (list + watch + the informer cache);
//   - watcher: `onramp serve` on the database, first sight (every status
//     is new: diagnosis, resource row, transition, event, phase);
//   - restart: a second `onramp serve` on the same database after the
//     first stopped (the resync after a restart: nothing changed).
//
// For each it reports the wall and CPU time of the initial sync, then of
// 100 status updates written to the Kustomizations' status subresource (as
// Flux would, toggling failed and ready), and memory: the heap's growth
// in this program, the resident memory of onramp serve.
func (m *measurement) watcher(ctx context.Context) (string, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", m.cluster.KubeconfigPath())
	if err != nil {
		return "", err
	}
	// No client-side rate limit: client-go's 5 requests a second would
	// make creating 3,000 objects take ten minutes.
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = -1, 0
	kc, err := fluxClient(fast)
	if err != nil {
		return "", err
	}
	prefix := fmt.Sprintf("wb%06x", rand.Uint32()&0xffffff)
	names := make([]string, (m.n+2)/3)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	databaseURL := "sqlite://" + filepath.Join(m.dir, "onramp", "onramp.db")
	if err := seedProvisioned(ctx, databaseURL, names); err != nil {
		return "", err
	}
	objs, err := createKustomizations(ctx, kc, prefix, names, m.n)
	if err != nil {
		return "", err
	}
	u := &updater{kc: kc, objs: objs[:min(100, len(objs))]}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d Kustomizations of %d projects; %d status updates each time:\n", len(objs), len(names), len(u.objs))
	fmt.Println("informers alone…")
	line, err := informers(ctx, cfg, prefix, objs, u)
	if err != nil {
		return "", err
	}
	b.WriteString(line)
	for _, what := range []string{"watcher, first sight", "watcher after a restart"} {
		fmt.Printf("%s…\n", what)
		line, err := m.serveWatcher(ctx, what, databaseURL, prefix, objs, u)
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
	}
	b.WriteString("  (CPU: this program's for the informers, with its own patches; onramp serve's for the watcher)\n")
	return b.String(), nil
}

// seedProvisioned stores a three-environment project, phase provisioned,
// for each name, and deletes their initialization jobs, so that no worker
// initializes them.
func seedProvisioned(ctx context.Context, databaseURL string, names []string) error {
	if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(databaseURL, "sqlite://")), 0o700); err != nil {
		return err
	}
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	// Insert only: a project is stored with its initialization job.
	q, err := store.OpenQueue(ctx, db, store.QueueOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer q.Close()
	reg, err := templates.New("")
	if err != nil {
		return err
	}
	tmpl, err := reg.FindTemplate("web-service")
	if err != nil {
		return err
	}
	envs := []onramp.EnvironmentSpec{{Name: "development", Type: onramp.Development}, {Name: "staging", Type: onramp.Staging}, {Name: "production", Type: onramp.Production}}
	t0 := time.Now()
	for _, name := range names {
		p, err := onramp.NewProject(onramp.ProjectCreate{Name: name, Template: "web-service", Environments: envs}, tmpl)
		if err != nil {
			return err
		}
		if err := db.CreateProject(ctx, "bench", p); err != nil {
			return fmt.Errorf("store %s: %w", name, err)
		}
		if err := db.ChangePhase(ctx, p.ID, onramp.PhaseInitializing, onramp.PhaseProvisioned); err != nil {
			return err
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `DELETE FROM river_job`); err != nil {
		return fmt.Errorf("delete the initialization jobs: %w", err)
	}
	fmt.Printf("stored %d projects in %s\n", len(names), time.Since(t0).Round(time.Millisecond))
	return nil
}

// createKustomizations creates n Kustomizations in three namespaces, one
// per name and environment, that Flux leaves alone.
func createKustomizations(ctx context.Context, kc client.Client, prefix string, names []string, n int) ([]object, error) {
	var objs []object
	for _, env := range []string{"development", "staging", "production"} {
		ns := prefix + "-" + env
		if err := kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, err
		}
		for _, name := range names {
			objs = append(objs, object{ns, name})
		}
	}
	objs = objs[:n]
	t0 := time.Now()
	err := parallel(16, len(objs), func(i int) error {
		o := objs[i]
		ks := &kustomizev1.Kustomization{
			ObjectMeta: metav1.ObjectMeta{Namespace: o.ns, Name: o.name, Finalizers: []string{kustomizev1.KustomizationFinalizer},
				Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelProject: o.name, kube.LabelEnvironment: strings.TrimPrefix(o.ns, prefix+"-")}},
			Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: 10 * time.Minute}, Path: "./deploy", Prune: true, Suspend: true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "nowhere"}},
		}
		return kc.Create(ctx, ks)
	})
	if err != nil {
		return nil, err
	}
	fmt.Printf("created %d Kustomizations in %s\n", len(objs), time.Since(t0).Round(time.Millisecond))
	return objs, nil
}

// updater writes a new Ready condition on its Kustomizations, toggling
// between failed and ready.
type updater struct {
	kc    client.Client
	objs  []object
	round int
}

// next is the status onramp must report after the next update.
func (u *updater) next() onramp.ResourceStatus {
	if (u.round+1)%2 == 1 {
		return onramp.StatusFailed
	}
	return onramp.StatusReady
}

// update writes the next round's condition.
func (u *updater) update(ctx context.Context) error {
	failed := u.next() == onramp.StatusFailed
	u.round++
	return parallel(4, len(u.objs), func(i int) error {
		o := u.objs[i]
		now := time.Now().UTC().Format(time.RFC3339)
		cond := fmt.Sprintf(`{"type":"Ready","status":"True","reason":"ReconciliationSucceeded","message":"Applied revision: main@sha1:%040d","lastTransitionTime":%q,"observedGeneration":1}`, u.round, now)
		if failed {
			cond = fmt.Sprintf(`{"type":"Ready","status":"False","reason":"ArtifactFailed","message":"kustomization path not found: stat /tmp/kustomization-%d/deploy: no such file or directory","lastTransitionTime":%q,"observedGeneration":1}`, u.round, now)
		}
		patch := fmt.Sprintf(`{"status":{"observedGeneration":1,"lastAppliedRevision":"main@sha1:%040d","conditions":[%s]}}`, u.round, cond)
		ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: o.ns, Name: o.name}}
		return u.kc.Status().Patch(ctx, ks, client.RawPatch(types.MergePatchType, []byte(patch)))
	})
}

// informers runs kube.Client.Watch in this program with callbacks that
// only count, until it delivered every object and then every update.
func informers(ctx context.Context, cfg *rest.Config, prefix string, objs []object, u *updater) (string, error) {
	k, err := kube.New(cfg)
	if err != nil {
		return "", err
	}
	var mu sync.Mutex
	seen, want := map[object]bool{}, map[object]onramp.ResourceStatus{}
	synced, updated := make(chan struct{}), make(chan struct{}, 1)
	observe := func(_ string, r onramp.Resource) {
		o := object{r.Namespace, r.Name}
		if r.Kind != onramp.KindKustomization || !strings.HasPrefix(r.Namespace, prefix+"-") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[o] {
			if seen[o] = true; len(seen) == len(objs) {
				close(synced)
			}
		}
		if s, ok := want[o]; ok && s == r.Status {
			if delete(want, o); len(want) == 0 {
				updated <- struct{}{}
			}
		}
	}
	self := os.Getpid()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, t0 := cpuOf(self), time.Now()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- k.Watch(wctx, observe, observe, nil) }()
	defer func() { cancel(); <-done }()
	select {
	case <-synced:
	case err := <-done:
		return "", fmt.Errorf("the watch ended before the initial sync: %v", err)
	case <-time.After(10 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		return "", fmt.Errorf("initial sync: %d of %d Kustomizations in 10 minutes", len(seen), len(objs))
	case <-ctx.Done():
		return "", ctx.Err()
	}
	syncWall, syncCPU := time.Since(t0), cpuOf(self)-cpu0
	runtime.GC()
	runtime.ReadMemStats(&m1)
	heap := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / (1 << 20)

	cpu1, t1 := cpuOf(self), time.Now()
	mu.Lock()
	for _, o := range u.objs {
		want[o] = u.next()
	}
	mu.Unlock()
	if err := u.update(ctx); err != nil {
		return "", err
	}
	select {
	case <-updated:
	case <-time.After(5 * time.Minute):
		mu.Lock()
		defer mu.Unlock()
		return "", fmt.Errorf("%d of %d updates not delivered in 5 minutes", len(want), len(u.objs))
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return fmt.Sprintf("  informers (this program, the floor): initial sync %s wall, %s CPU; heap +%.1f MiB (%.1f KiB per object); updates %s wall, %s CPU\n",
		syncWall.Round(time.Millisecond), syncCPU, heap, heap*1024/float64(len(objs)), time.Since(t1).Round(time.Millisecond), cpuOf(self)-cpu1), nil
}

// serveWatcher starts `onramp serve` on the database and measures its
// status watcher's initial sync and one round of updates, then stops it.
// On first sight the sync is over when every Kustomization is recorded; a
// restart records nothing new, so its sync is over when onramp, having
// listed everything, goes quiet.
func (m *measurement) serveWatcher(ctx context.Context, what, databaseURL, prefix string, objs []object, u *updater) (string, error) {
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	before, err := recorded(ctx, db, prefix)
	if err != nil {
		return "", err
	}
	srv, err := startServer(ctx, m.bin, m.dir, databaseURL, m.cluster.KubeconfigPath(), "info")
	if err != nil {
		return "", err
	}
	defer srv.stop()
	pid := srv.cmd.Process.Pid
	t0, cpu0, anon0 := time.Now(), cpuOf(pid), procStatus(pid, "RssAnon:")
	var listed time.Duration
	select {
	case <-srv.listed:
		listed = time.Since(t0)
	case <-time.After(10 * time.Minute):
		return "", fmt.Errorf("%s: onramp serve did not list the objects within 10 minutes", what)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	var end time.Time
	var cpu time.Duration
	if len(before) < len(objs) {
		err = until(ctx, func() (bool, error) {
			got, err := recorded(ctx, db, prefix)
			return len(got) == len(objs), err
		})
		end, cpu = time.Now(), cpuOf(pid)
	} else {
		end, cpu, err = quiet(ctx, pid)
	}
	if err != nil {
		return "", err
	}
	syncWall, syncCPU := end.Sub(t0), cpu-cpu0
	rss, anon := procStatus(pid, "VmRSS:"), procStatus(pid, "RssAnon:")

	cpu1, t1 := cpuOf(pid), time.Now()
	status := u.next()
	if err := u.update(ctx); err != nil {
		return "", err
	}
	err = until(ctx, func() (bool, error) {
		got, err := recorded(ctx, db, prefix)
		for _, o := range u.objs {
			if got[o] != status {
				return false, err
			}
		}
		return true, err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("  %s (onramp serve): listed after %s; initial sync %s wall, %s CPU; RSS %.1f MiB (anonymous +%.1f MiB since it listened on its port); updates %s wall until recorded, %s CPU\n",
		what, listed.Round(time.Millisecond), syncWall.Round(time.Millisecond), syncCPU, mib(rss), mib(anon-anon0), time.Since(t1).Round(time.Millisecond), cpuOf(pid)-cpu1), nil
}

// recorded reads the recorded status of the Kustomizations in prefix's
// namespaces.
func recorded(ctx context.Context, db *store.DB, prefix string) (map[object]onramp.ResourceStatus, error) {
	rows, err := db.SQL().QueryContext(ctx, `SELECT namespace, name, status FROM resources WHERE kind = ? AND namespace LIKE ?`,
		onramp.KindKustomization, prefix+"-%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[object]onramp.ResourceStatus{}
	for rows.Next() {
		var o object
		var s onramp.ResourceStatus
		if err := rows.Scan(&o.ns, &o.name, &s); err != nil {
			return nil, err
		}
		got[o] = s
	}
	return got, rows.Err()
}

// until calls done every 20 ms until it reports true or fails, for up to
// 10 minutes.
func until(ctx context.Context, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for {
		if ok, err := done(); ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// quiet waits until pid has used at most one clock tick of CPU in half a
// second, and returns when that half second began and pid's CPU time then.
func quiet(ctx context.Context, pid int) (time.Time, time.Duration, error) {
	type sample struct {
		at  time.Time
		cpu time.Duration
	}
	var samples []sample
	for {
		now := sample{time.Now(), cpuOf(pid)}
		samples = append(samples, now)
		for i, s := range samples {
			if now.at.Sub(s.at) < 500*time.Millisecond {
				break
			}
			if now.cpu-s.cpu <= 10*time.Millisecond {
				// The first moment it had used what it had then.
				for _, e := range samples[:i+1] {
					if e.cpu >= s.cpu {
						return e.at, e.cpu, nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cpuOf is the user and system CPU time of pid.
func cpuOf(pid int) time.Duration {
	st, _ := readStat(pid)
	return st.cpu
}

// parallel runs fn(0..n-1) on `workers` goroutines and returns the first
// error.
func parallel(workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
