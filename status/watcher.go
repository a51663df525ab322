package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/templates"
)

// Store is what the watcher needs of the database.
type Store interface {
	LookupProject(ctx context.Context, name string) (int64, onramp.Phase, error)
	ProjectByID(ctx context.Context, id int64) (*onramp.Project, error)
	UpsertResources(ctx context.Context, projectID int64, rs ...onramp.Resource) (bool, error)
	SetEnvironmentStatus(ctx context.Context, projectID int64, env string, status onramp.ResourceStatus) error
	ChangePhase(ctx context.Context, projectID int64, from, to onramp.Phase) error
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
	local   map[string]int       // projects this process initializes (Initializing)
	pending map[string]*observed // projects with observations being recorded
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

// Initializing marks a project whose initialization this process runs,
// until ended is first called or the project settles: its objects' events
// are skipped as those of any initializing project are, without the
// database read that would find it initializing (~20 reads per create
// while its objects are applied). A mark is only a shortcut, removed early
// rather than late: an unmarked project's phase is read.
func (w *Watcher) Initializing(name string) (ended func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.local == nil {
		w.local = map[string]int{}
	}
	w.local[name]++
	return sync.OnceFunc(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.local[name] > 1 {
			w.local[name]--
		} else {
			delete(w.local, name)
		}
	})
}

// Run watches until ctx ends. The informers' initial list re-delivers every
// object after a restart; recording an unchanged state is a no-op, so no
// transition is lost or duplicated.
func (w *Watcher) Run(ctx context.Context) error {
	if err := w.Resync(ctx); err != nil {
		w.Logger.Warn("resync with the cluster", "error", err)
	}
	return w.Kube.Watch(ctx, func(project string, r onramp.Resource) {
		w.observe(ctx, project, r)
	}, func(project string, r onramp.Resource) {
		r.Status, r.Reason, r.Message, r.ObservedAt = onramp.StatusMissing, "NotFound", r.Kind+" was deleted", time.Now()
		w.observe(ctx, project, r)
	})
}

// Settled is called when a project's initialization ends (at 100% or
// failed) and when a repair ends. While a project initializes, the pipeline
// owns it and the watcher records only deletions of its objects: recording
// each of Flux's first status changes as well took CPU and database turns
// from the pipeline (on two cores, ~8 ms of setup_gitops). The informers'
// cache holds the latest state of everything skipped, so replaying it now
// records what was missed; once it is recorded, the project is judged.
func (w *Watcher) Settled(ctx context.Context, projectID int64, name string) {
	w.mu.Lock()
	delete(w.local, name) // replayed events must be recorded
	// The replayed states are written together: no writer starts for
	// the project until the replay is over, unless one is already busy.
	held := w.pending[name] == nil
	o := w.queue(name)
	w.mu.Unlock()
	// Without a running watch there is nothing to replay: when it starts,
	// its initial list delivers every object.
	err := w.Kube.Replay(ctx, name)
	if err != nil && !errors.Is(err, kube.ErrNotWatching) {
		w.Logger.Warn("catch up with the cluster", "project", name, "error", err)
	}
	judged := false
	if held {
		judged = w.flush(ctx, name, o)
	}
	<-w.recorded(name)
	if !judged {
		w.Judge(ctx, projectID)
	}
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
	if w.local[project] > 0 && r.Status != onramp.StatusMissing {
		return // the pipeline's until it settles; see Settled
	}
	start := w.pending[project] == nil
	o := w.queue(project)
	o.rs = append(o.rs, r)
	if start {
		go w.flush(ctx, project, o)
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
// project after each batch that changed something, and reports whether it
// judged it.
func (w *Watcher) flush(ctx context.Context, project string, o *observed) (judged bool) {
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
			return judged
		}
		w.mu.Unlock()
		if id, changed := w.record(ctx, project, rs...); changed {
			w.Judge(ctx, id)
			judged = true
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
	if phase == onramp.PhaseInitializing {
		// The pipeline's until it settles (see Settled), but for deletions.
		rs = slices.DeleteFunc(rs, func(r onramp.Resource) bool { return r.Status != onramp.StatusMissing })
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
			_, err := w.Store.Credential(ctx, id, onramp.GitReadCredential)
			return err == nil
		},
	}
}

// Judge recomputes a project's environment statuses and phase from its
// recorded resources. The pipeline calls it when a project reaches 100%;
// before that, the pipeline owns the phase and the environments' statuses.
func (w *Watcher) Judge(ctx context.Context, projectID int64) {
	p, err := w.Store.ProjectByID(ctx, projectID)
	if err != nil || p.Phase == onramp.PhaseInitializing {
		return
	}
	resources := p.GitOps.Resources
	for _, e := range p.Environments {
		if s := onramp.EnvironmentStatus(e.Name, resources); s != e.Status {
			w.Store.SetEnvironmentStatus(ctx, p.ID, e.Name, s)
		}
	}
	if phase := Phase(p, resources); phase != p.Phase {
		w.Logger.Info("project phase", "project", p.Name, "from", p.Phase, "to", phase)
		w.Store.ChangePhase(ctx, p.ID, p.Phase, phase)
	}
}
