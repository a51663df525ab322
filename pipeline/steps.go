package pipeline

import (
	"context"
	"fmt"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
)

// renderTemplate renders the template in memory and runs preflight: every
// environment's overlay builds, and no namespace is one the project may
// not use. Nothing is created before it passes.
func (r *initialization) renderTemplate(ctx context.Context) (onramp.StepDone, error) {
	if r.repair {
		return onramp.StepDone{}, nil // a repair re-applies objects; the repository stays as it is
	}
	files, err := r.Templates.Render(r.p)
	if err != nil {
		return onramp.StepDone{}, fail(err, "fix the template "+r.p.Template+" (see `onramp template show "+r.p.Template+"`), then retry")
	}
	if err := r.Templates.Preflight(r.p, files); err != nil {
		return onramp.StepDone{}, fail(err, "the template's overlay paths must match the environments' paths and build with kustomize; fix the template, then create the project again")
	}
	if err := r.checkNamespaces(ctx); err != nil {
		return onramp.StepDone{}, err
	}
	r.files = files
	return onramp.StepDone{Log: fmt.Sprintf("rendered %d files from template %s; every environment's overlay builds", len(files), r.p.Template)}, nil
}

// checkNamespaces refuses a project whose namespaces are reserved or exist
// without being onramp's for it.
func (r *initialization) checkNamespaces(ctx context.Context) error {
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

// createRepository makes sure the project's repository exists, with its
// push webhook where the provider has one.
func (r *initialization) createRepository(ctx context.Context) (onramp.StepDone, error) {
	repo, err := r.git.CreateRepository(ctx, r.p.Name)
	if err != nil {
		return onramp.StepDone{}, gitFail(err, r.p.Name)
	}
	if err := r.git.EnsureWebhook(ctx, r.p.Name); err != nil {
		return onramp.StepDone{}, gitFail(err, r.p.Name)
	}
	repo.Revision = r.p.Repository.Revision
	r.repo = repo
	return onramp.StepDone{Log: "repository " + repo.URL, Repository: &repo}, nil
}

// pushCommit commits the rendered tree. In a repair, or an attempt after
// the one that pushed, the rendered commit is in the repository already:
// commits pushed since are kept, and the objects are applied at the head
// as it is now.
func (r *initialization) pushCommit(ctx context.Context) (onramp.StepDone, error) {
	pushed := r.repair || r.stepStatus("push_commit") == onramp.StepSucceeded
	var rev string
	var err error
	message := fmt.Sprintf("Render template %s for %s", r.p.Template, r.p.Name)
	if pushed {
		rev, err = r.git.Head(ctx, r.p.Name)
		if err == nil && rev != r.p.Repository.Revision {
			// The environments that follow the branch show what they run.
			message, err = r.git.CommitMessage(ctx, r.p.Name, rev)
		}
	} else {
		rev, err = r.git.Commit(ctx, r.p.Name, r.files, message)
	}
	if err != nil {
		return onramp.StepDone{}, gitFail(err, r.p.Name)
	}
	r.repo.Revision = rev
	if rev != r.p.Repository.Revision {
		r.repo.Message = message
	}
	done := onramp.StepDone{Repository: &r.repo}
	if !pushed {
		done.Log = "pushed " + rev
	}
	return done, nil
}

// setupGitOps applies each environment's objects in dependency order and
// records them once the apiserver has them, one transaction per
// environment with the progress its objects are worth; the last
// environment's is recorded with the step's end.
func (r *initialization) setupGitOps(ctx context.Context) (onramp.StepDone, error) {
	if r.Cluster == nil {
		return onramp.StepDone{}, errNoCluster()
	}
	cred, err := r.git.DeployCredential(ctx, r.p.Name)
	if err != nil {
		return onramp.StepDone{}, gitFail(err, r.p.Name)
	}
	r.cred = cred
	base, weight := stepSpan("setup_gitops")
	specs := r.envSpecs()
	total, sent := len(specs)*len(kube.Objects(specs[0])), 0
	var last onramp.Applied
	for i, spec := range specs {
		actx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
		rs, err := r.Cluster.ApplyEnvironment(actx, spec, func(onramp.Resource) {
			sent++
			r.checkpoint(fmt.Sprintf("setup_gitops:%d", sent))
		})
		cancel()
		r.applied = append(r.applied, rs...)
		a := onramp.Applied{Environment: spec.Environment, Resources: rs, Step: "setup_gitops"}
		if !r.repair {
			a.Progress = base + weight*len(r.applied)/total
		}
		if err != nil {
			// What the apiserver accepted is recorded, without progress
			// beyond it; the next attempt applies it all again.
			if rerr := r.Store.RecordApplied(ctx, r.p.ID, a); rerr != nil {
				r.Logger.Error("record applied objects", "project", r.p.Name, "error", rerr)
			}
			return onramp.StepDone{}, fail(fmt.Errorf("environment %s: %w", spec.Environment, err),
				"check that the cluster is reachable (GET /readyz) and that onramp may create objects there; onramp retries by itself")
		}
		a.Status = onramp.StatusReconciling
		a.Log = fmt.Sprintf("environment %s: namespace %s, service account, role binding, secret, git repository and kustomization applied", spec.Environment, spec.Namespace)
		if i == len(specs)-1 {
			last = a
			break
		}
		if err := r.Store.RecordApplied(ctx, r.p.ID, a); err != nil {
			return onramp.StepDone{}, err
		}
	}
	return onramp.StepDone{Applied: &last}, nil
}

// envSpecs are the environments' objects as the repository now stands.
func (r *initialization) envSpecs() []kube.EnvironmentSpec {
	var specs []kube.EnvironmentSpec
	for _, e := range r.p.Environments {
		specs = append(specs, envSpec(r.p, e, r.repo, r.cred))
	}
	return specs
}

// envSpec is an environment's objects: an environment that follows the
// branch at the repository's head, one that moves by promotion pinned to
// its own revision (the head, until its first promotion).
func envSpec(p *onramp.Project, e onramp.Environment, repo onramp.Repository, cred onramp.GitCredential) kube.EnvironmentSpec {
	spec := kube.EnvironmentSpec{
		Project: p.Name, Environment: e.Name, Type: e.Type, Namespace: e.Namespace,
		Path: e.Path, Interval: e.Interval.Std(), GitSecret: cred.Data,
		GitURL: cred.URL, Branch: repo.Branch, Revision: repo.Revision,
	}
	if e.Policy.Mode == onramp.PolicyPromote {
		spec.Pin = true
		if e.Revision != "" {
			spec.Revision = e.Revision
		}
	}
	return spec
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

// verify reads every object back from the apiserver, each not older than
// its apply's answer, and checks that the repository head is the pushed
// commit. That the database records each object is checked in the
// transaction that ends the step and writes 100% (StepDone.Recorded), so
// that no record can go between the check and the progress.
func (r *initialization) verify(ctx context.Context) (onramp.StepDone, error) {
	vctx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
	live, err := r.Cluster.Verify(vctx, r.p.Name, r.envSpecs(), r.applied)
	cancel()
	if err != nil {
		return onramp.StepDone{}, fail(err, "an object is missing or differs in the cluster; onramp re-applies it on the next attempt")
	}
	head, err := r.git.Head(ctx, r.p.Name)
	switch {
	case err != nil:
		return onramp.StepDone{}, fail(err, "the repository could not be read back; onramp retries by itself")
	case head != r.repo.Revision:
		return onramp.StepDone{}, fmt.Errorf("repository head is %s, not the pushed %s", head, r.repo.Revision)
	}
	r.live = live
	msg := fmt.Sprintf("verified %d objects in the cluster and the database, and the repository head %s", len(live), head)
	return onramp.StepDone{Log: msg, Recorded: live}, nil
}

const unrecordedHint = "an object was applied but its record is missing; onramp re-applies and records it on the next attempt"

// finalize says what exists; its end is verify's transaction.
func (r *initialization) finalize(context.Context) (onramp.StepDone, error) {
	return onramp.StepDone{Log: "GitOps resources created: " + countKinds(r.live)}, nil
}

// gitFail is a Git provider's failure with what to do: a refusal (a token
// refused, a repository that is not onramp's) fails the step, and its
// message says what to change before a retry; anything else, such as a
// provider that does not answer, is retried by onramp.
func gitFail(err error, project string) error {
	if permanent(err) || onramp.ErrorCode(err) == onramp.ECONFLICT {
		return &stepError{err: err, permanent: true,
			hint: "do what the message says, then run `onramp project retry " + project + "`"}
	}
	return fail(err, "check that the Git server is reachable and writable; onramp retries by itself")
}
