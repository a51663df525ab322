package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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
	if err := r.checkNamespaces(ctx); err != nil {
		return "", err
	}
	r.files = files
	return fmt.Sprintf("rendered %d files from template %s; every environment's overlay builds", len(files), r.p.Template), nil
}

// checkNamespaces refuses, before anything is applied, a project whose
// namespaces are reserved or exist without being onramp's for it.
func (r *initRun) checkNamespaces(ctx context.Context) error {
	const hint = "create the project again with another name or other environment names"
	if err := r.Namespaces.Check(r.p); err != nil {
		return fail(err, hint)
	}
	if r.Cluster == nil {
		return nil // setup_gitops fails with what to configure
	}
	var names []string
	for _, e := range r.p.Environments {
		names = append(names, e.Namespace)
	}
	if err := r.Cluster.CheckNamespaces(ctx, r.p.Name, names); err != nil {
		return fail(err, hint+", or remove the namespace if it is not in use")
	}
	return nil
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
	close(r.pushed)
	if pushed {
		return "", nil
	}
	return "pushed " + rev, nil
}

// setup is setup_gitops's work, started as soon as preflight has passed:
// the objects that need no repository are applied while render_template's
// end is recorded, the repository made and the commit pushed, and the
// GitRepository of the first environment waits for the commit
// (EnvironmentSpec.Repository).
// Its records, each environment's objects with the progress they are worth,
// wait until setup_gitops has started, so progress stays in step order; if
// the run ends before (a Git step failed, a deletion), the objects applied
// are recorded without progress and the applies are stopped.
//
// Once every object is applied, verify's read-back starts while the last
// records are written: it reads each object "not older than" its apply's
// answer, so it sees nothing earlier than a read after the records would.
// The last environment's record is written with setup_gitops's end, in
// one transaction.
type setup struct {
	ctx     context.Context // the job's, for the records
	cancel  context.CancelFunc
	decide  sync.Once
	decided chan struct{}   // closed once started is known
	started bool            // setup_gitops started: the records count as progress
	last    *onramp.Applied // the last environment's record, left to setup_gitops's end
	done    chan struct{}   // closed when err is set
	err     error
	// readBack, set before done is closed if every apply succeeded, is
	// closed when live and liveErr are set.
	readBack chan struct{}
	live     []onramp.Resource
	liveErr  error
}

// begin says whether setup_gitops has started; only the first call counts.
func (s *setup) begin(started bool) {
	s.decide.Do(func() {
		s.started = started
		close(s.decided)
	})
}

// startSetup starts setup_gitops's applies in the background.
func (r *initRun) startSetup(ctx context.Context) {
	actx, cancel := context.WithCancel(ctx)
	s := &setup{ctx: ctx, cancel: cancel, decided: make(chan struct{}), done: make(chan struct{})}
	r.setup = s
	go func() {
		defer close(s.done)
		s.err = r.applyEnvironments(actx, ctx, s)
	}()
}

// stopSetup ends a setup that setup_gitops did not wait for, and waits
// until its applies and read-back have stopped and its records are written.
func (r *initRun) stopSetup() {
	if s := r.setup; s != nil {
		s.begin(false)
		s.cancel()
		<-s.done
		if s.readBack != nil {
			<-s.readBack
		}
		if s.last != nil { // setup_gitops did not end
			ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
			defer cancel()
			if err := r.Store.RecordApplied(ctx, r.p.ID, *s.last); err != nil {
				r.Logger.Error("record applied objects", "project", r.p.Name, "error", err)
			}
			s.last = nil
		}
	}
}

// setupGitOps waits for the applies startSetup began, which record
// themselves from now on.
func (r *initRun) setupGitOps(ctx context.Context, _, _ int) (string, error) {
	if r.setup == nil {
		r.startSetup(ctx)
	}
	r.setup.begin(true)
	select {
	case <-r.setup.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if r.setup.err == nil {
		r.lastApplied, r.setup.last = r.setup.last, nil
	}
	return "", r.setup.err
}

// applyEnvironments applies each environment's objects in dependency order
// and records them once the apiserver has them: one transaction per
// environment, also for the objects applied before an apply failed. The
// records are written in order by a goroutine, with recordCtx, so that one
// environment's is written while the next is applied.
func (r *initRun) applyEnvironments(ctx, recordCtx context.Context, s *setup) error {
	if r.Cluster == nil {
		return errNoCluster()
	}
	select {
	case <-r.credential:
		if r.credentialErr != nil {
			return r.credentialErr
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	specs := r.envSpecs(r.awaitRepository)
	base, weight := stepSpan("setup_gitops")
	records, recorded := make(chan onramp.Applied, len(specs)), make(chan error, 1)
	var applyErr error
	go func() {
		var err error
		<-s.decided
		record := func(a onramp.Applied) {
			if !s.started {
				a.Progress, a.Status, a.Log = 0, "", ""
			}
			if err == nil {
				err = r.Store.RecordApplied(recordCtx, r.p.ID, a)
			}
		}
		// Each record waits for the next apply's answer: the last one, if
		// every apply succeeded, is written with setup_gitops's end.
		var held *onramp.Applied
		for a := range records {
			if held != nil {
				record(*held)
			}
			held = &a
		}
		if held != nil && err == nil && applyErr == nil && s.started && r.marks("setup_gitops") {
			s.last = held
		} else if held != nil {
			record(*held)
		}
		recorded <- err
	}()
	total, sent, applied := len(specs)*6, 0, 0
	for _, spec := range specs {
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
	if applyErr == nil {
		s.readBack = make(chan struct{})
		go func() {
			defer close(s.readBack)
			vctx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
			defer cancel()
			s.live, s.liveErr = r.Cluster.Verify(vctx, r.p.Name, r.envSpecs(nil), r.applied)
		}()
	}
	close(records)
	if err := <-recorded; err != nil {
		return err
	}
	return applyErr
}

// awaitRepository answers, once push_commit has succeeded, the repository
// and revision the GitRepositories point at.
func (r *initRun) awaitRepository(ctx context.Context) (kube.GitSource, error) {
	select {
	case <-r.pushed:
		return kube.GitSource{URL: r.repo.URL, Branch: r.repo.Branch, Revision: r.repo.Revision}, nil
	case <-ctx.Done():
		return kube.GitSource{}, fmt.Errorf("waiting for the commit to be pushed: %w", context.Cause(ctx))
	}
}

// stepSpan returns the progress before an initialization step and its weight.
func stepSpan(name string) (base, weight int) {
	for _, s := range onramp.InitSteps {
		if s.Name == name {
			return base, s.Weight
		}
		base += s.Weight
	}
	return base, 0
}

// envSpecs returns the environments' specs: with the repository as push_commit
// left it, or, with await set, as await answers it.
func (r *initRun) envSpecs(await func(context.Context) (kube.GitSource, error)) []kube.EnvironmentSpec {
	var specs []kube.EnvironmentSpec
	for _, e := range r.p.Environments {
		spec := kube.EnvironmentSpec{
			Project: r.p.Name, Environment: e.Name, Type: e.Type, Namespace: e.Namespace,
			Path: e.Path, Interval: e.Interval.Std(), Username: onramp.GitReadUser, Password: r.password,
			Repository: await,
		}
		if await == nil {
			spec.GitURL, spec.Branch, spec.Revision = r.repo.URL, r.repo.Branch, r.repo.Revision
		}
		specs = append(specs, spec)
	}
	return specs
}

// verify reads every object back from the apiserver and checks that the
// repository holds the pushed commit and the database records each object:
// only then may progress reach 100%. The apiserver's answers, asked for as
// the last object was applied (setup), come while the repository is read.
// The records are checked in the transaction that ends the step (and
// writes 100%), so that none can go between the check and the progress; a
// repair, which writes no progress, checks them here.
func (r *initRun) verify(ctx context.Context, _, _ int) (string, error) {
	if r.setup == nil || r.setup.readBack == nil {
		return "", errors.New("verify: setup_gitops has not applied every object in this attempt")
	}
	var head string
	var headErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		head, headErr = r.Git.Head(ctx, r.p.Name)
	}()
	select {
	case <-r.setup.readBack:
	case <-ctx.Done():
		<-read
		return "", ctx.Err()
	}
	live, err := r.setup.live, r.setup.liveErr
	<-read
	switch {
	case headErr != nil:
		return "", fail(headErr, "the repository could not be read back; onramp retries by itself")
	case head != r.repo.Revision:
		return "", fmt.Errorf("repository head is %s, not the pushed %s", head, r.repo.Revision)
	case err != nil:
		return "", fail(err, "an object is missing or differs in the cluster; onramp re-applies it on the next attempt")
	}
	if !r.marks("verify") {
		if err := r.Store.CheckRecorded(ctx, r.p.ID, live); err != nil {
			return "", fail(err, unrecordedHint)
		}
	}
	r.resources = live
	return fmt.Sprintf("verified %d objects in the cluster and the database, and the repository head %s", len(live), head), nil
}

const unrecordedHint = "an object was applied but its record is missing; onramp re-applies and records it on the next attempt"

func (r *initRun) finalize(context.Context, int, int) (string, error) {
	return "GitOps resources created: " + countKinds(r.resources), nil
}
