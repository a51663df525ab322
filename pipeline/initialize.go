package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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

// Work runs the steps, skipping the marks of those already done.
func (w *InitializeWorker) Work(ctx context.Context, job *river.Job[onramp.InitializeJob]) error {
	p, err := w.Store.JobProject(ctx, job.ID, job.Args.ProjectID)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return nil // deleted meanwhile: nothing to do
	}
	if err != nil {
		return err
	}
	r := &initRun{Deps: w.Deps, p: p, attempt: job.Attempt, maxAttempts: job.MaxAttempts,
		pushed: make(chan struct{}), credential: make(chan struct{})}
	switch p.Phase {
	case onramp.PhaseDeleting:
		return nil
	case onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded:
		r.repair = true
	}
	if !r.repair && w.Initializing != nil {
		defer w.Initializing(p.Name)()
	}
	return r.run(ctx)
}

// initRun is one attempt of a project's initialization.
type initRun struct {
	*Deps
	p                    *onramp.Project
	attempt, maxAttempts int
	repair               bool

	files     onramp.Files
	repo      onramp.Repository
	repoMoved bool // repo changed in this step: record it with the step's end
	// lastApplied, set by setup_gitops, is recorded with the step's end.
	lastApplied *onramp.Applied
	pushed      chan struct{} // closed when push_commit has set repo's revision
	setup       *setup        // setup_gitops's applies, started once preflight passed
	// The Git read credential, fetched or made while the template renders;
	// credential is closed when password or credentialErr is set.
	credential    chan struct{}
	password      string
	credentialErr error
	// starting, while the first step's start is being recorded, receives
	// the record's error (see startStep).
	starting  chan error
	applied   []onramp.Resource // as the apiserver answered the applies
	resources []onramp.Resource
}

// A step's run returns the line to log when it succeeds, if any. A local
// step does no I/O: its start and end are recorded with the end of the
// step before it, in one transaction.
type step struct {
	name  string
	run   func(ctx context.Context, base, weight int) (string, error)
	local bool
}

func (r *initRun) steps() []step {
	return []step{
		{"render_template", r.render, false},
		{"create_repository", r.createRepository, false},
		{"push_commit", r.pushCommit, false},
		{"setup_gitops", r.setupGitOps, false},
		{"verify", r.verify, false},
		{"finalize", r.finalize, true},
	}
}

// run runs the steps in order. Each step's end, its log line, the progress
// it is worth and the next step's start are one transaction (a local
// step's end joins it); the last step's end writes 100% and provisioned
// together. setup_gitops's applies start once preflight has passed (see
// setup).
func (r *initRun) run(ctx context.Context) error {
	go func() {
		defer close(r.credential)
		r.password, r.credentialErr = r.Store.EnsureCredential(ctx, r.p.ID, onramp.GitReadCredential, randomPassword)
	}()
	defer func() { <-r.credential }()
	defer r.stopSetup()
	defer r.startRecorded()
	if r.repair {
		r.log(ctx, "", "info", "repair: re-applying every object from the recorded desired state")
	}
	steps := r.steps()
	done, started := 0, ""
	var ends []onramp.StepDone // steps done, not yet recorded
	// The phase as of the last step's end (FinishStep's answer) or a read:
	// a deletion supersedes initialization at the next step.
	phase := r.p.Phase
	for i, s := range steps {
		if phase == "" && len(ends) == 0 {
			var err error
			phase, err = r.Store.Phase(ctx, r.p.ID)
			if onramp.ErrorCode(err) == onramp.ENOTFOUND {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if phase == onramp.PhaseDeleting {
			return nil
		}
		phase = ""
		mark := r.marks(s.name)
		if mark && started != s.name {
			r.startStep(ctx, s.name)
		}
		if mark && r.attempt > 1 {
			if err := r.startRecorded(); err != nil {
				return err
			}
			r.log(ctx, s.name, "info", fmt.Sprintf("attempt %d of %d", r.attempt, r.maxAttempts))
		}
		msg, err := s.run(ctx, done, onramp.InitSteps[i].Weight)
		if err == nil && s.name == "render_template" {
			r.startSetup(ctx) // preflight passed
		}
		if serr := r.startRecorded(); serr != nil {
			return errors.Join(err, serr)
		}
		if err != nil {
			if len(ends) > 0 { // the steps before succeeded
				if _, ferr := r.Store.FinishStep(ctx, r.p.ID, ends...); ferr != nil {
					return errors.Join(err, ferr)
				}
			}
			return r.failed(ctx, s.name, err)
		}
		done += onramp.InitSteps[i].Weight
		var repo *onramp.Repository
		if r.repoMoved {
			repo, r.repoMoved = &r.repo, false
		}
		if mark {
			d := onramp.StepDone{Step: s.name, Progress: done, Log: msg, Repository: repo, Applied: r.lastApplied}
			r.lastApplied = nil
			if s.name == "verify" {
				d.Recorded = r.resources
			}
			if i+1 < len(steps) && r.marks(steps[i+1].name) {
				d.Next = steps[i+1].name
			}
			started, ends = d.Next, append(ends, d)
			if d.Next == "" || !steps[i+1].local {
				if phase, err = r.Store.FinishStep(ctx, r.p.ID, ends...); err != nil {
					if onramp.ErrorCode(err) == onramp.ECONFLICT { // verify's check (StepDone.Recorded)
						return r.failed(ctx, "verify", fail(err, unrecordedHint))
					}
					return err
				}
				ends = nil
			}
		} else {
			if repo != nil {
				if err := r.Store.SetRepository(ctx, r.p.ID, *repo); err != nil {
					return err
				}
			}
			if msg != "" {
				r.log(ctx, s.name, "info", msg)
			}
		}
		r.checkpoint(s.name)
	}
	r.settled(ctx)
	return nil
}

// startStep records a step's start while the step runs: the first step's
// work (and setup_gitops's first applies, which follow preflight) need not
// wait for the record's commit. Every other record of the run waits for it
// (startRecorded), so the start is never written after the step's end.
func (r *initRun) startStep(ctx context.Context, name string) {
	ch := make(chan error, 1)
	r.starting = ch
	go func() { ch <- r.Store.StartStep(ctx, r.p.ID, name) }()
}

// startRecorded waits until the step's start is recorded, if it is being,
// and returns the record's error.
func (r *initRun) startRecorded() error {
	if r.starting == nil {
		return nil
	}
	err := <-r.starting
	r.starting = nil
	return err
}

// marks reports whether the run records the step's start and end: not in
// a repair, nor for a step an earlier attempt finished.
func (r *initRun) marks(name string) bool {
	return !r.repair && r.stepStatus(name) != onramp.StepSucceeded
}

func (r *initRun) stepStatus(name string) onramp.StepStatus {
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
func (r *initRun) failed(ctx context.Context, stepName string, err error) error {
	// The job's own context may be what ran out: record the failure anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r.stopSetup() // what it applied is recorded before the failure
	msg, hint := message(err), hintOf(err)
	r.Logger.Warn("initialization step failed", "project", r.p.Name, "step", stepName, "attempt", r.attempt, "error", err)
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
	r.settled(ctx)
	return river.JobCancel(err)
}

func (r *initRun) settled(ctx context.Context) {
	if r.OnSettled != nil {
		r.OnSettled(ctx, r.p.ID, r.p.Name)
	}
}

func (r *initRun) log(ctx context.Context, stepName, level, msg string) {
	if err := r.Store.Log(ctx, r.p.ID, stepName, level, msg); err != nil {
		r.Logger.Error("write project log", "project", r.p.Name, "error", err)
	}
}

func randomPassword() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
