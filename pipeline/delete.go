package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/onramp/onramp"
)

// DeleteWorker removes everything a project has, in order, waiting until
// each thing is really gone: the cluster objects (Kustomizations first so
// that Flux prunes what it applied), the repository, then the records.
type DeleteWorker struct {
	river.WorkerDefaults[onramp.DeleteJob]
	*Deps
}

// deleteStepOf maps the kind being deleted to the delete step it belongs to.
var deleteStepOf = map[string]string{
	onramp.KindKustomization:  "delete_kustomizations",
	onramp.KindGitRepository:  "delete_sources",
	onramp.KindSecret:         "delete_sources",
	onramp.KindRoleBinding:    "delete_sources",
	onramp.KindServiceAccount: "delete_sources",
	onramp.KindNamespace:      "delete_namespaces",
}

// Work deletes the project once no initialization of it is running.
func (w *DeleteWorker) Work(ctx context.Context, job *river.Job[onramp.DeleteJob]) error {
	p, err := w.Store.ProjectByID(ctx, job.Args.ProjectID)
	if onramp.ErrorCode(err) == onramp.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if busy, err := w.Store.Initializing(ctx, p.ID); err != nil {
		return err
	} else if busy {
		// The running initialization sees the deleting phase at its next
		// step and stops; delete after it, never beside it.
		return river.JobSnooze(time.Second)
	}
	d := &deleteRun{Deps: w.Deps, p: p, attempt: job.Attempt, maxAttempts: job.MaxAttempts, pos: -1, opts: job.Args.DeleteOptions}
	if d.git, err = w.Git.GitFor(ctx, p); err != nil {
		return d.failed(ctx, err)
	}
	return d.run(ctx)
}

type deleteRun struct {
	*Deps
	p                    *onramp.Project
	attempt, maxAttempts int
	pos                  int // index of the current step in onramp.DeleteSteps
	opts                 onramp.DeleteOptions
	git                  onramp.GitProvider // the project's
}

func (d *deleteRun) run(ctx context.Context) error {
	if err := d.deleteCluster(ctx); err != nil {
		return d.failed(ctx, err)
	}
	if err := d.enter(ctx, "delete_repository"); err != nil {
		return err
	}
	if err := d.deleteRepository(ctx); err != nil {
		return d.failed(ctx, err)
	}
	if err := d.enter(ctx, "delete_records"); err != nil {
		return err
	}
	if d.Cluster != nil {
		left, err := d.Cluster.Remaining(ctx, d.p.Name)
		if err != nil {
			return d.failed(ctx, err)
		}
		if len(left) > 0 {
			return d.failed(ctx, fmt.Errorf("still in the cluster: %s", strings.Join(left, ", ")))
		}
	}
	if err := d.enter(ctx, ""); err != nil {
		return err
	}
	d.Logger.Info("project deleted", "project", d.p.Name)
	return d.Store.RemoveProject(ctx, d.p.ID)
}

// deleteRepository removes the webhook and Flux's deploy credential, then
// the repository
// unless it is kept. A repository that is not onramp's (one that made the
// initialization fail) is left as it is. A provider that does not answer
// fails the attempt, which is retried: nothing is forgotten before the
// provider confirms it is gone.
func (d *deleteRun) deleteRepository(ctx context.Context) error {
	const hint = "check that the Git server is reachable and the token still valid; onramp retries by itself"
	err := d.git.RemoveWebhook(ctx, d.p.Name)
	if err == nil {
		err = d.git.RemoveDeployCredential(ctx, d.p.Name)
	}
	if onramp.ErrorCode(err) == onramp.ECONFLICT {
		d.log(ctx, "repository left as it is: "+message(err))
		return nil
	}
	if err != nil {
		return fail(err, hint)
	}
	if d.opts.KeepRepository {
		d.log(ctx, "repository kept; Flux's deploy credential removed")
		return nil
	}
	err = d.git.DeleteRepository(ctx, d.p.Name)
	if onramp.ErrorCode(err) == onramp.ECONFLICT {
		d.log(ctx, "repository left as it is: "+message(err))
		return nil
	}
	if err != nil {
		return fail(err, hint)
	}
	return nil
}

func (d *deleteRun) deleteCluster(ctx context.Context) error {
	if err := d.enter(ctx, "delete_kustomizations"); err != nil {
		return err
	}
	if d.Cluster == nil {
		if len(d.p.GitOps.Resources) > 0 {
			return errNoCluster()
		}
		return d.enter(ctx, "delete_namespaces")
	}
	// The progress calls cannot return an error: the first one stops
	// recording and is returned once the cluster's deletion ends.
	var recordErr error
	err := d.Cluster.DeleteProject(ctx, d.p.Name, func(kind string, gone bool, msg string) {
		if recordErr != nil {
			return
		}
		if s, ok := deleteStepOf[kind]; ok {
			recordErr = d.enter(ctx, s)
		}
		if msg != "" {
			d.log(ctx, msg)
		}
		if gone && recordErr == nil {
			// The records follow the cluster down; delete_records removes
			// whatever a failure here leaves.
			recordErr = d.Store.RemoveResources(ctx, d.p.ID, kind)
		}
	})
	return errors.Join(err, recordErr)
}

// enter finishes the current step and starts next ("" finishes all).
// Steps passed over had nothing to delete and are marked done too.
func (d *deleteRun) enter(ctx context.Context, next string) error {
	to := len(onramp.DeleteSteps)
	for i, s := range onramp.DeleteSteps {
		if s.Name == next {
			to = i
		}
	}
	if to <= d.pos {
		return nil
	}
	if max(d.pos, 0) == to { // nothing to finish first
		if err := d.Store.StartStep(ctx, d.p.ID, next); err != nil {
			return err
		}
	}
	for i := max(d.pos, 0); i < to; i++ {
		name := onramp.DeleteSteps[i].Name
		if i != d.pos {
			if err := d.Store.StartStep(ctx, d.p.ID, name); err != nil {
				return err
			}
		}
		done := onramp.StepDone{Step: name}
		if i == to-1 && to < len(onramp.DeleteSteps) {
			done.Next = next
		}
		if _, err := d.Store.FinishStep(ctx, d.p.ID, done); err != nil {
			return err
		}
	}
	d.pos = to
	return nil
}

// step is the name of the current step, for logs and failures.
func (d *deleteRun) step() string {
	if d.pos < 0 || d.pos >= len(onramp.DeleteSteps) {
		return ""
	}
	return onramp.DeleteSteps[d.pos].Name
}

func (d *deleteRun) failed(ctx context.Context, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg := message(err)
	if delay := retryDelay(err); delay > 0 && !permanent(err) {
		d.log(ctx, fmt.Sprintf("attempt %d of %d: %s; the rate limit ends in %s, onramp waits until then", d.attempt, d.maxAttempts, msg, delay.Round(time.Second)))
		return river.JobSnooze(delay)
	}
	if !permanent(err) && d.attempt < d.maxAttempts {
		d.log(ctx, fmt.Sprintf("attempt %d of %d failed: %s; retrying", d.attempt, d.maxAttempts, msg))
		return err
	}
	hint := hintOf(err)
	if hint == "" {
		hint = "fix the cause, then delete the project again"
	}
	if ferr := d.Store.FailStep(ctx, d.p.ID, d.step(), msg, hint); ferr != nil {
		return errors.Join(err, ferr)
	}
	return river.JobCancel(errors.New(msg))
}

func (d *deleteRun) log(ctx context.Context, msg string) {
	if err := d.Store.Log(ctx, d.p.ID, d.step(), "info", msg); err != nil {
		d.Logger.Error("write project log", "project", d.p.Name, "error", err)
	}
}
