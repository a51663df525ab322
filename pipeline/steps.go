package pipeline

import (
	"context"
	"fmt"
	"sync"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
)

func (r *initRun) render(ctx context.Context, _, _ int) (string, error) {
	if r.repair {
		return "", nil // repair re-applies objects; the repository stays as it is
	}
	files, err := r.Templates.Render(r.p)
	if err != nil {
		return "", fail(err, "fix the template "+r.p.Template+" (see `onramp template show "+r.p.Template+"`), then retry")
	}
	if err := r.Templates.Preflight(r.p, files); err != nil {
		return "", fail(err, "the template's overlay paths must match the environments' paths and build with kustomize; fix the template, then create the project again")
	}
	r.files = files
	return fmt.Sprintf("rendered %d files from template %s; every environment's overlay builds", len(files), r.p.Template), nil
}

func (r *initRun) createRepository(ctx context.Context, _, _ int) (string, error) {
	repo, err := r.Git.CreateRepository(ctx, r.p.Name)
	if err != nil {
		return "", fail(err, "check that the Git server is reachable and writable; onramp retries by itself")
	}
	repo.Revision = r.p.Repository.Revision
	r.repo, r.repoMoved = repo, true
	return "repository " + repo.URL, nil
}

func (r *initRun) pushCommit(ctx context.Context, _, _ int) (string, error) {
	commit := func() (string, error) {
		return r.Git.Commit(ctx, r.p.Name, r.files, fmt.Sprintf("Render template %s for %s", r.p.Template, r.p.Name))
	}
	// In a repair, or an attempt after one that pushed, the rendered
	// commit is in the repository already: commits pushed since are kept,
	// and objects are applied at the head as it is now.
	pushed := r.repair || r.stepStatus("push_commit") == onramp.StepSucceeded
	if pushed {
		commit = func() (string, error) { return r.Git.Head(ctx, r.p.Name) }
	}
	rev, err := commit()
	if err != nil {
		return "", fail(err, "check that the Git server is reachable and writable; onramp retries by itself")
	}
	r.repo.Revision, r.repoMoved = rev, true
	if pushed {
		return "", nil
	}
	return "pushed " + rev, nil
}

// setupGitOps applies each environment's objects in dependency order and
// records them, with the progress they are worth, once the apiserver has
// them: one transaction per environment, also for the objects applied
// before an apply failed. The records are written in order by a goroutine,
// so that one environment's is written while the next is applied.
func (r *initRun) setupGitOps(ctx context.Context, base, weight int) (string, error) {
	if r.Cluster == nil {
		return "", errNoCluster()
	}
	password, err := r.Store.EnsureCredential(ctx, r.p.ID, onramp.GitReadCredential, randomPassword)
	if err != nil {
		return "", err
	}
	r.password = password
	r.specs = r.envSpecs()
	records, recorded := make(chan onramp.Applied, len(r.specs)), make(chan error, 1)
	go func() {
		var err error
		for a := range records {
			if err == nil {
				err = r.Store.RecordApplied(ctx, r.p.ID, a)
			}
		}
		recorded <- err
	}()
	total, sent, applied := len(r.specs)*6, 0, 0
	var applyErr error
	for _, spec := range r.specs {
		actx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
		rs, err := r.Cluster.ApplyEnvironment(actx, spec, func(onramp.Resource) {
			sent++
			r.checkpoint(fmt.Sprintf("setup_gitops:%d", sent))
		})
		cancel()
		applied += len(rs)
		r.applied = append(r.applied, rs...)
		a := onramp.Applied{Environment: spec.Environment, Resources: rs, Step: "setup_gitops"}
		if !r.repair {
			a.Progress = base + weight*min(applied, total)/total
		}
		if err == nil {
			a.Status = onramp.StatusReconciling
			a.Log = fmt.Sprintf("environment %s: namespace %s, service account, role binding, secret, git repository and kustomization applied", spec.Environment, spec.Namespace)
		}
		records <- a
		if err != nil {
			applyErr = fail(fmt.Errorf("environment %s: %w", spec.Environment, err),
				"check that the cluster is reachable (GET /readyz) and that onramp may create objects there; onramp retries by itself")
			break
		}
	}
	close(records)
	if err := <-recorded; err != nil {
		return "", err
	}
	return "", applyErr
}

func (r *initRun) envSpecs() []kube.EnvironmentSpec {
	var specs []kube.EnvironmentSpec
	for _, e := range r.p.Environments {
		specs = append(specs, kube.EnvironmentSpec{
			Project: r.p.Name, Environment: e.Name, Type: e.Type, Namespace: e.Namespace,
			Path: e.Path, Interval: e.Interval.Std(), GitURL: r.repo.URL, Branch: r.repo.Branch,
			Username: onramp.GitReadUser, Password: r.password, Revision: r.repo.Revision,
		})
	}
	return specs
}

// verify reads every object back from the apiserver and checks that the
// database records each one and the repository holds the pushed commit:
// only then may progress reach 100%. The three reads are independent, so
// the repository and the database are read while the apiserver answers.
func (r *initRun) verify(ctx context.Context, _, _ int) (string, error) {
	var (
		head      string
		stored    []onramp.Resource
		headErr   error
		storedErr error
		wg        sync.WaitGroup
	)
	wg.Go(func() { head, headErr = r.Git.Head(ctx, r.p.Name) })
	wg.Go(func() { stored, storedErr = r.Store.Resources(ctx, r.p.ID) })
	actx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
	defer cancel()
	live, err := r.Cluster.Verify(actx, r.p.Name, r.specs, r.applied)
	wg.Wait()
	switch {
	case headErr != nil:
		return "", fail(headErr, "the repository could not be read back; onramp retries by itself")
	case head != r.repo.Revision:
		return "", fmt.Errorf("repository head is %s, not the pushed %s", head, r.repo.Revision)
	case err != nil:
		return "", fail(err, "an object is missing or differs in the cluster; onramp re-applies it on the next attempt")
	case storedErr != nil:
		return "", storedErr
	}
	recorded := map[string]bool{}
	for _, s := range stored {
		recorded[s.Kind+"/"+s.Namespace+"/"+s.Name] = true
	}
	for _, l := range live {
		if !recorded[l.Kind+"/"+l.Namespace+"/"+l.Name] {
			return "", fmt.Errorf("%s %s/%s exists in the cluster but is not recorded", l.Kind, l.Namespace, l.Name)
		}
	}
	r.resources = live
	return fmt.Sprintf("verified %d objects in the cluster and the database, and the repository head %s", len(live), head), nil
}

func (r *initRun) finalize(context.Context, int, int) (string, error) {
	return "GitOps resources created: " + countKinds(r.resources), nil
}
