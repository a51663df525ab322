package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
)

// ReconcileTimeout is how long a promotion waits for Flux to be Ready at
// its revision before it is failed.
const ReconcileTimeout = 10 * time.Minute

// PromoteWorker applies an approved promotion or rollback: it makes the
// revision the environment's desired one, applies the environment's
// objects pinned to it, and follows Flux until the Kustomization is Ready
// for its generation at the revision (done) or fails on it (failed, with
// Flux's reason). Every step is idempotent: a crashed job resumes where
// the records say it was.
type PromoteWorker struct {
	river.WorkerDefaults[onramp.PromoteJob]
	*Deps
}

// Work runs one attempt.
func (w *PromoteWorker) Work(ctx context.Context, job *river.Job[onramp.PromoteJob]) error {
	pr, projectID, err := w.Store.PromotionByID(ctx, job.Args.PromotionID)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return nil // the project was deleted
	}
	if err != nil {
		return err
	}
	if pr.Status != onramp.PromotionApplying && pr.Status != onramp.PromotionReconciling {
		return nil
	}
	p, err := w.Store.ProjectByID(ctx, projectID)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND || (err == nil && p.Phase == onramp.PhaseDeleting) {
		return nil
	}
	if err != nil {
		return err
	}
	run := &promotion{Deps: w.Deps, pr: pr, p: p}
	if w.Cluster == nil {
		return run.fail(ctx, errNoCluster().Error(), "")
	}
	err = run.run(ctx)
	var snooze *river.JobSnoozeError
	if err != nil && !errors.As(err, &snooze) {
		if job.Attempt >= job.MaxAttempts {
			// River gives the job up: so does the promotion, saying why.
			return errors.Join(err, run.fail(ctx, fmt.Sprintf("gave up after %d attempts: %s", job.Attempt, message(err)), run.failHint()))
		}
		run.log(ctx, "warn", fmt.Sprintf("%s %d, attempt %d of %d failed: %s; retrying", pr.Kind, pr.ID, job.Attempt, job.MaxAttempts, message(err)))
	}
	return err
}

// promotion is one attempt of a promotion's job.
type promotion struct {
	*Deps
	pr *onramp.Promotion
	p  *onramp.Project
}

func (r *promotion) run(ctx context.Context) error {
	git, err := r.Git.GitFor(ctx, r.p)
	if err != nil {
		return r.fail(ctx, onramp.ErrorMessage(err), "check the project's git connection (`onramp git show "+r.p.Git+"`), then promote again")
	}
	if r.pr.Status == onramp.PromotionApplying {
		message, err := git.CommitMessage(ctx, r.p.Name, r.pr.Revision)
		if onramp.ErrorCode(err) == onramp.ENOTFOUND {
			return r.fail(ctx, fmt.Sprintf("the repository has no commit %s", onramp.ShortRevision(r.pr.Revision)), "promote a revision the repository has")
		}
		if err != nil {
			return err // retried
		}
		if r.pr, err = r.Store.StartPromotion(ctx, r.pr.ID, message); err != nil {
			return err
		}
		if r.pr.Status != onramp.PromotionApplying {
			return nil
		}
	}
	cred, err := git.DeployCredential(ctx, r.p.Name)
	if err != nil {
		return err
	}
	spec, err := r.spec(ctx, cred)
	if err != nil {
		return err
	}
	if err := r.apply(ctx, spec); err != nil {
		return err
	}
	r.checkpoint("promote:applied")
	if r.pr.Status == onramp.PromotionApplying {
		r.log(ctx, "info", fmt.Sprintf("%s %d: %s applied at %s, waiting for Flux", r.pr.Kind, r.pr.ID, r.pr.Environment, onramp.ShortRevision(r.pr.Revision)))
		if ok, err := r.Store.AdvancePromotion(ctx, r.pr.ID, onramp.PromotionReconciling, "", ""); err != nil || !ok {
			return err
		}
		r.pr.UpdatedAt = time.Now()
	}
	return r.follow(ctx, spec, cred)
}

// spec is the environment's objects as the records now want them: the
// promotion's revision, unless a newer promotion has moved it since.
func (r *promotion) spec(ctx context.Context, cred onramp.GitCredential) (kube.EnvironmentSpec, error) {
	p, err := r.Store.ProjectByID(ctx, r.p.ID)
	if err != nil {
		return kube.EnvironmentSpec{}, err
	}
	r.p = p
	for _, e := range p.Environments {
		if e.Name == r.pr.Environment {
			return envSpec(p, e, p.Repository, cred), nil
		}
	}
	return kube.EnvironmentSpec{}, fmt.Errorf("project %s has no environment %s", p.Name, r.pr.Environment)
}

func (r *promotion) apply(ctx context.Context, spec kube.EnvironmentSpec) error {
	actx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
	defer cancel()
	if _, err := r.Cluster.ApplyEnvironment(actx, spec, nil); err != nil {
		return fmt.Errorf("apply environment %s: %w", spec.Environment, err)
	}
	return nil
}

// follow watches Flux until the environment is Ready at the revision or
// fails on it, for at most half the job's time; then the job is snoozed
// and the next attempt follows on. An object someone applied since with
// another revision is applied again.
func (r *promotion) follow(ctx context.Context, spec kube.EnvironmentSpec, cred onramp.GitCredential) error {
	deadline := r.pr.UpdatedAt.Add(ReconcileTimeout)
	until := time.Now().Add(r.AttemptTimeout)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last kube.Rollout
	for {
		pr, _, err := r.Store.PromotionByID(ctx, r.pr.ID)
		if err != nil || pr.Status != onramp.PromotionReconciling {
			return err // superseded, or ended by another attempt
		}
		if spec.Revision != r.pr.Revision {
			return nil // a newer promotion moved the environment
		}
		rctx, cancel := context.WithTimeout(ctx, r.AttemptTimeout)
		last, err = r.Cluster.Rollout(rctx, spec)
		cancel()
		switch {
		case err != nil:
			return err
		case last.Done:
			r.log(ctx, "info", fmt.Sprintf("%s %d: %s is Ready at %s", r.pr.Kind, r.pr.ID, r.pr.Environment, onramp.ShortRevision(r.pr.Revision)))
			_, err := r.Store.AdvancePromotion(ctx, r.pr.ID, onramp.PromotionDone, "", "")
			return err
		case last.Failed:
			return r.fail(ctx, fluxSays(last.Status), r.failHint())
		case !last.Current:
			if spec, err = r.spec(ctx, cred); err != nil {
				return err
			}
			if err := r.apply(ctx, spec); err != nil {
				return err
			}
			continue
		case time.Now().After(deadline):
			return r.fail(ctx, fmt.Sprintf("Flux did not report %s Ready at %s within %s; last: %s", r.pr.Environment, onramp.ShortRevision(r.pr.Revision), ReconcileTimeout, fluxSays(last.Status)), r.failHint())
		case time.Now().After(until):
			return river.JobSnooze(time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (r *promotion) failHint() string {
	return fmt.Sprintf("fix the commit and promote again, or roll back: `onramp project rollback %s --env %s`", r.p.Name, r.pr.Environment)
}

// fail ends the promotion failed with what Flux (or onramp) said.
func (r *promotion) fail(ctx context.Context, msg, hint string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r.log(ctx, "error", fmt.Sprintf("%s %d of %s to %s failed: %s", r.pr.Kind, r.pr.ID, r.pr.Environment, onramp.ShortRevision(r.pr.Revision), msg))
	_, err := r.Store.AdvancePromotion(ctx, r.pr.ID, onramp.PromotionFailed, msg, hint)
	return err
}

func (r *promotion) log(ctx context.Context, level, msg string) {
	if err := r.Store.Log(ctx, r.p.ID, "", level, msg); err != nil {
		r.Logger.Error("write project log", "project", r.p.Name, "error", err)
	}
}

// fluxSays is an object's status in Flux's words.
func fluxSays(s onramp.Resource) string {
	msg := fmt.Sprintf("%s %s", s.Kind, s.Status)
	if s.Reason != "" {
		msg += " (" + s.Reason + ")"
	}
	if s.Message != "" {
		msg += ": " + s.Message
	}
	return msg
}
