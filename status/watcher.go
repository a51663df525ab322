package status

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/templates"
)

// Store is what the watcher needs of the database.
type Store interface {
	LookupProject(ctx context.Context, name string) (int64, onramp.Phase, error)
	UpsertResources(ctx context.Context, projectID int64, rs ...onramp.Resource) (bool, error)
	JudgeProject(ctx context.Context, projectID int64) (onramp.Phase, error)
	Credential(ctx context.Context, projectID int64, name string) (string, error)
	SetUpProjects(ctx context.Context) ([]*onramp.Project, error)
}

// Trees lists the files of a project's repository head.
type Trees interface {
	ListTree(ctx context.Context, project string) ([]string, error)
}

// Watcher follows the cluster objects of every project and records what
// Flux says about them, with hints, transitions and the project's phase.
type Watcher struct {
	Store  Store
	Kube   *kube.Client
	Trees  Trees
	Logger *slog.Logger

	mu      sync.Mutex
	pending map[string]*observed // projects with observations being recorded
	writers sync.WaitGroup       // the goroutines recording them
	// flushing bounds the projects whose observations are written at once.
	flushing chan struct{}
}

// observed are a project's observations not yet recorded, and the channel
// closed once every one is.
type observed struct {
	rs   []onramp.Resource
	done chan struct{}
}

// flushers is how many projects' observations are written at once.
const flushers = 4

// Run watches until ctx ends. The informers' initial list re-delivers every
// object after a restart; recording an unchanged state is a no-op, so no
// transition is lost or duplicated. Run returns once nothing it started
// writes any more, so that another watcher can take over.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.writers.Wait()
	// Resync once the informers have listed everything: an object deleted
	// before their list is in neither the list nor the events that follow
	// it, and a resync before the list would miss one deleted in between.
	ctx, cancel := context.WithCancel(ctx)
	synced, resynced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(resynced)
		select {
		case <-synced:
			if err := w.Resync(ctx); err != nil && ctx.Err() == nil {
				w.Logger.Warn("resync with the cluster", "error", err)
			}
		case <-ctx.Done():
		}
	}()
	defer func() { cancel(); <-resynced }()
	return w.Kube.Watch(ctx, func(project string, r onramp.Resource) {
		w.observe(ctx, project, r)
	}, func(project string, r onramp.Resource) {
		r.Status, r.Reason, r.Message, r.ObservedAt = onramp.StatusMissing, "NotFound", r.Kind+" was deleted", time.Now()
		w.observe(ctx, project, r)
	}, func() {
		w.Logger.Info("watching every project's objects")
		close(synced)
	})
}

// recorded returns a channel closed once every observation of the project
// made so far is recorded.
func (w *Watcher) recorded(project string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if o := w.pending[project]; o != nil {
		return o.done
	}
	done := make(chan struct{})
	close(done)
	return done
}

// Resync marks missing every recorded object of a set-up project that the
// cluster no longer has: a deletion while onramp was not watching produces
// no event. Objects that do exist are brought current by the watch's
// initial list.
func (w *Watcher) Resync(ctx context.Context) error {
	projects, err := w.Store.SetUpProjects(ctx)
	if err != nil {
		return err
	}
	if len(projects) == 0 {
		return nil
	}
	present, err := w.Kube.PresentAll(ctx)
	if err != nil {
		return fmt.Errorf("list the projects' objects: %w", err)
	}
	for _, p := range projects {
		exists := map[string]bool{}
		for _, r := range present[p.Name] {
			exists[r.Kind+"/"+r.Namespace+"/"+r.Name] = true
		}
		for _, r := range p.GitOps.Resources {
			if r.Status == onramp.StatusMissing || exists[r.Kind+"/"+r.Namespace+"/"+r.Name] {
				continue
			}
			r.Status, r.Reason, r.Message, r.ObservedAt = onramp.StatusMissing, "NotFound", r.Kind+" was deleted", time.Now()
			w.observe(ctx, p.Name, r)
		}
	}
	return nil
}

// observe queues an observation of a project's object. One goroutine per
// project writes them, in order: whatever arrives while it writes goes
// into its next transaction, with one judgement per transaction, so that
// Flux's bursts of status changes cost a few writes, not one each, and an
// idle watcher writes at once.
func (w *Watcher) observe(ctx context.Context, project string, r onramp.Resource) {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := w.pending[project] == nil
	o := w.queue(project)
	o.rs = append(o.rs, r)
	if start {
		w.writers.Go(func() { w.flush(ctx, project, o) })
	}
}

// queue returns the project's observations waiting to be recorded, made
// if none were; the caller holds w.mu and starts a writer for a new one.
func (w *Watcher) queue(project string) *observed {
	if w.pending == nil {
		w.pending = map[string]*observed{}
		w.flushing = make(chan struct{}, flushers)
	}
	o := w.pending[project]
	if o == nil {
		o = &observed{done: make(chan struct{})}
		w.pending[project] = o
	}
	return o
}

// flush records a project's observations until none is left, judging the
// project after each batch that changed something.
func (w *Watcher) flush(ctx context.Context, project string, o *observed) {
	w.flushing <- struct{}{}
	defer func() { <-w.flushing }()
	for {
		w.mu.Lock()
		rs := o.rs
		o.rs = nil
		if len(rs) == 0 {
			delete(w.pending, project)
			close(o.done)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		if id, changed := w.record(ctx, project, rs...); changed {
			w.judge(ctx, project, id)
		}
	}
}

// record records the observed states of a project's objects, with
// diagnoses for those not ready. It returns the project's ID and whether
// anything changed.
func (w *Watcher) record(ctx context.Context, project string, rs ...onramp.Resource) (int64, bool) {
	id, phase, err := w.Store.LookupProject(ctx, project)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return 0, false // objects of a project onramp no longer knows
	}
	if err != nil {
		w.Logger.Warn("status watcher", "project", project, "error", err)
		return 0, false
	}
	if phase == onramp.PhaseDeleting {
		return 0, false // going away on purpose
	}
	facts := w.facts(ctx, id, project)
	for i := range rs {
		if rs[i].Status != onramp.StatusReady {
			rs[i] = Diagnose(rs[i], facts)
		}
	}
	if len(rs) == 0 {
		return id, false
	}
	changed, err := w.Store.UpsertResources(ctx, id, rs...)
	if err != nil {
		w.Logger.Warn("record status", "project", project, "objects", len(rs), "error", err)
		return id, false
	}
	if changed {
		for _, r := range rs {
			w.Logger.Debug("status", "project", project, "kind", r.Kind, "namespace", r.Namespace, "status", r.Status, "reason", r.Reason)
		}
	}
	return id, changed
}

// facts are read only for the failures whose hints use them: most
// observations are of objects on their way to ready, and the watcher
// shares the cores with the pipeline.
func (w *Watcher) facts(ctx context.Context, id int64, project string) Facts {
	return Facts{
		Project: project,
		Overlays: func() []string {
			paths, err := w.Trees.ListTree(ctx, project)
			if err != nil {
				return nil
			}
			files := onramp.Files{}
			for _, path := range paths {
				files[path] = nil
			}
			return templates.ExistingOverlays(files)
		},
		CredentialExists: func() bool {
			for _, name := range []string{onramp.GitReadCredential, onramp.GitDeployCredential} {
				if _, err := w.Store.Credential(ctx, id, name); err == nil {
					return true
				}
			}
			return false
		},
	}
}

// judge recomputes a project's environment statuses and phase from its
// records. While the project initializes, the pipeline owns its phase,
// and judges it itself as it reaches 100%.
func (w *Watcher) judge(ctx context.Context, project string, id int64) {
	if _, err := w.Store.JudgeProject(ctx, id); err != nil {
		w.Logger.Warn("judge project", "project", project, "error", err)
	}
}
