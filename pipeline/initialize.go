package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/onramp/onramp"
)

// InitializeWorker takes a project from nothing to 100%: rendered,
// committed, and every GitOps object applied, read back and recorded. Run
// on a project already set up, it repairs: it re-applies every object from
// the recorded desired state without touching progress.
type InitializeWorker struct {
	river.WorkerDefaults[onramp.InitializeJob]
	*Deps
}

// Work runs the steps in order.
func (w *InitializeWorker) Work(ctx context.Context, job *river.Job[onramp.InitializeJob]) error {
	p, err := w.Store.ProjectByID(ctx, job.Args.ProjectID)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return nil // deleted meanwhile: nothing to do
	}
	if err != nil {
		return err
	}
	r := &initialization{Deps: w.Deps, p: p, attempt: job.Attempt, maxAttempts: job.MaxAttempts}
	switch p.Phase {
	case onramp.PhaseDeleting:
		return nil
	case onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded:
		r.repair = true
	}
	if r.git, err = w.Git.GitFor(ctx, p); err != nil {
		return r.failed(ctx, "create_repository", fail(err, "check the project's git connection (`onramp git show "+p.Git+"`), then retry"))
	}
	return r.run(ctx)
}

// initialization is one attempt of a project's initialization, or of its
// repair. Each step reads what the steps before it left here and returns
// what it did; the run records it.
type initialization struct {
	*Deps
	p                    *onramp.Project
	attempt, maxAttempts int
	repair               bool
	git                  onramp.GitProvider // the project's

	files   onramp.Files         // render_template's
	repo    onramp.Repository    // create_repository's, with push_commit's revision
	cred    onramp.GitCredential // Flux's read-only credential, setup_gitops's
	applied []onramp.Resource    // setup_gitops's, as the apiserver answered
	live    []onramp.Resource    // verify's, as read back
}

// step is one initialization step: its work returns the step's end to
// record (its log line, and what else it changed).
type step struct {
	name string
	work func(ctx context.Context) (onramp.StepDone, error)
}

// steps are the initialization's steps, in the order of onramp.InitSteps.
func (r *initialization) steps() []step {
	return []step{
		{"render_template", r.renderTemplate},
		{"create_repository", r.createRepository},
		{"push_commit", r.pushCommit},
		{"setup_gitops", r.setupGitOps},
		{"verify", r.verify},
		{"finalize", r.finalize},
	}
}

// run runs the steps one after another. A step's end, its log line, the
// progress it is worth and the next step's start are one transaction;
// finalize, which does no I/O, ends in verify's, so that the check that
// every object is recorded and the 100% it allows are one transaction too.
// A deletion requested meanwhile stops the run at the next step.
func (r *initialization) run(ctx context.Context) error {
	if r.repair {
		r.log(ctx, "", "info", "repair: re-applying every object from the recorded desired state")
	}
	steps := r.steps()
	phase, started, progress := r.p.Phase, false, 0
	var ends []onramp.StepDone // recorded with the next step's end
	for i, s := range steps {
		if phase == onramp.PhaseDeleting {
			return nil
		}
		progress += onramp.InitSteps[i].Weight
		mark := r.marks(s.name)
		if mark && !started {
			if err := r.Store.StartStep(ctx, r.p.ID, s.name); err != nil {
				return err
			}
		}
		if mark && r.attempt > 1 {
			r.log(ctx, s.name, "info", fmt.Sprintf("attempt %d of %d", r.attempt, r.maxAttempts))
		}
		done, err := s.work(ctx)
		if err != nil {
			return r.failed(ctx, s.name, err)
		}
		if !mark { // a repair, or a step an earlier attempt finished
			started = false
			if err := r.recordUnmarked(ctx, s.name, done); err != nil {
				return err
			}
			continue
		}
		done.Step, done.Progress = s.name, progress
		if i+1 < len(steps) && r.marks(steps[i+1].name) {
			done.Next = steps[i+1].name
		}
		started, ends = done.Next != "", append(ends, done)
		if s.name == "verify" {
			r.checkpoint(s.name)
			continue // ends with finalize
		}
		if phase, err = r.Store.FinishStep(ctx, r.p.ID, ends...); err != nil {
			if onramp.ErrorCode(err) == onramp.ECONFLICT { // verify's StepDone.Recorded
				return r.failed(ctx, "verify", fail(err, unrecordedHint))
			}
			return err
		}
		ends = nil
		r.checkpoint(s.name)
	}
	return nil
}

// recordUnmarked records what a step that is not marked did: a repair or
// an attempt after the one that finished it changes no progress.
func (r *initialization) recordUnmarked(ctx context.Context, name string, done onramp.StepDone) error {
	if done.Applied != nil {
		if err := r.Store.RecordApplied(ctx, r.p.ID, *done.Applied); err != nil {
			return err
		}
	}
	if done.Repository != nil {
		if err := r.Store.SetRepository(ctx, r.p.ID, *done.Repository); err != nil {
			return err
		}
	}
	if len(done.Recorded) > 0 {
		if err := r.Store.CheckRecorded(ctx, r.p.ID, done.Recorded); err != nil {
			return fail(err, unrecordedHint)
		}
	}
	if done.Log != "" {
		r.log(ctx, name, "info", done.Log)
	}
	return nil
}

// marks reports whether the run records the step's start and end: not in
// a repair, nor for a step an earlier attempt finished.
func (r *initialization) marks(name string) bool {
	return !r.repair && r.stepStatus(name) != onramp.StepSucceeded
}

func (r *initialization) stepStatus(name string) onramp.StepStatus {
	for _, s := range r.p.Steps {
		if s.Name == name {
			return s.Status
		}
	}
	return onramp.StepPending
}

// failed records a step's failure. A permanent failure, or the last
// attempt, fails the project; otherwise the attempt is logged and River
// retries the job with backoff.
func (r *initialization) failed(ctx context.Context, stepName string, err error) error {
	// The job's own context may be what ran out: record the failure anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg, hint := message(err), hintOf(err)
	r.Logger.Warn("initialization step failed", "project", r.p.Name, "step", stepName, "attempt", r.attempt, "error", err)
	if d := retryDelay(err); d > 0 && !permanent(err) {
		r.log(ctx, stepName, "warn", fmt.Sprintf("attempt %d of %d: %s; the rate limit ends in %s, onramp waits until then", r.attempt, r.maxAttempts, msg, d.Round(time.Second)))
		return river.JobSnooze(d)
	}
	if !permanent(err) && r.attempt < r.maxAttempts {
		r.log(ctx, stepName, "warn", fmt.Sprintf("attempt %d of %d failed: %s; retrying", r.attempt, r.maxAttempts, msg))
		return err
	}
	r.log(ctx, stepName, "error", msg)
	if r.repair {
		return river.JobCancel(err)
	}
	if hint == "" {
		hint = "fix the cause, then run `onramp project retry " + r.p.Name + "`"
	}
	if ferr := r.Store.FailStep(ctx, r.p.ID, stepName, msg, hint); ferr != nil {
		return errors.Join(err, ferr)
	}
	if ferr := r.Store.ChangePhase(ctx, r.p.ID, onramp.PhaseInitializing, onramp.PhaseFailed); ferr != nil {
		return errors.Join(err, ferr)
	}
	return river.JobCancel(err)
}

func (r *initialization) log(ctx context.Context, stepName, level, msg string) {
	if err := r.Store.Log(ctx, r.p.ID, stepName, level, msg); err != nil {
		r.Logger.Error("write project log", "project", r.p.Name, "error", err)
	}
}
