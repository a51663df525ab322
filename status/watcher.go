package status

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/templates"
)

// Store is what the watcher needs of the database.
type Store interface {
	ProjectByName(ctx context.Context, name string) (*onramp.Project, error)
	ProjectByID(ctx context.Context, id int64) (*onramp.Project, error)
	UpsertResource(ctx context.Context, projectID int64, r onramp.Resource) (bool, error)
	Resources(ctx context.Context, projectID int64) ([]onramp.Resource, error)
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

// Resync marks missing every recorded object of a set-up project that the
// cluster no longer has: a deletion while onramp was not watching produces
// no event. Objects that do exist are brought current by the watch's
// initial list.
func (w *Watcher) Resync(ctx context.Context) error {
	projects, err := w.Store.SetUpProjects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		present, err := w.Kube.Present(ctx, p.Name)
		if err != nil {
			return fmt.Errorf("list objects of %s: %w", p.Name, err)
		}
		exists := map[string]bool{}
		for _, r := range present {
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

func (w *Watcher) observe(ctx context.Context, project string, r onramp.Resource) {
	p, err := w.Store.ProjectByName(ctx, project)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return // an object of a project onramp no longer knows
	}
	if err != nil {
		w.Logger.Warn("status watcher", "project", project, "error", err)
		return
	}
	if p.Phase == onramp.PhaseDeleting {
		return // going away on purpose
	}
	if r.Status != onramp.StatusReady {
		r = Diagnose(r, w.facts(ctx, p))
	}
	changed, err := w.Store.UpsertResource(ctx, p.ID, r)
	if err != nil {
		w.Logger.Warn("record status", "project", project, "kind", r.Kind, "name", r.Name, "error", err)
		return
	}
	if changed {
		w.Logger.Debug("status", "project", project, "kind", r.Kind, "namespace", r.Namespace, "status", r.Status, "reason", r.Reason)
		w.Judge(ctx, p.ID)
	}
}

func (w *Watcher) facts(ctx context.Context, p *onramp.Project) Facts {
	f := Facts{Project: p.Name}
	if paths, err := w.Trees.ListTree(ctx, p.Name); err == nil {
		files := onramp.Files{}
		for _, path := range paths {
			files[path] = nil
		}
		f.Overlays = templates.ExistingOverlays(files)
	}
	_, err := w.Store.Credential(ctx, p.ID, onramp.GitReadCredential)
	f.CredentialExists = err == nil
	return f
}

// Judge recomputes a project's environment statuses and phase from its
// recorded resources. The pipeline calls it when a project reaches 100%.
func (w *Watcher) Judge(ctx context.Context, projectID int64) {
	p, err := w.Store.ProjectByID(ctx, projectID)
	if err != nil {
		return
	}
	resources, err := w.Store.Resources(ctx, projectID)
	if err != nil {
		w.Logger.Warn("judge phase", "project", p.Name, "error", err)
		return
	}
	for _, e := range p.Environments {
		if s := onramp.EnvironmentStatus(e.Name, resources); s != e.Status && p.Phase != onramp.PhaseInitializing {
			w.Store.SetEnvironmentStatus(ctx, p.ID, e.Name, s)
		}
	}
	if phase := Phase(p, resources); phase != p.Phase {
		w.Logger.Info("project phase", "project", p.Name, "from", p.Phase, "to", phase)
		w.Store.ChangePhase(ctx, p.ID, p.Phase, phase)
	}
}
