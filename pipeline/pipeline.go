// Package pipeline runs the durable jobs that take a project from nothing
// to "every GitOps object exists and is recorded" and back to nothing.
// Every step is idempotent, so a retried, redelivered or crashed job
// converges to exactly one of each thing; progress only counts work that
// was verified done.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/kube"
)

// Store is what the jobs need of the database.
type Store interface {
	ProjectByID(ctx context.Context, id int64) (*onramp.Project, error)
	StartStep(ctx context.Context, id int64, step string) error
	FinishStep(ctx context.Context, id int64, ds ...onramp.StepDone) (onramp.Phase, error)
	FailStep(ctx context.Context, id int64, step, reason, hint string) error
	ChangePhase(ctx context.Context, id int64, from, to onramp.Phase) error
	Log(ctx context.Context, id int64, step, level, message string) error
	SetRepository(ctx context.Context, id int64, repo onramp.Repository) error
	Initializing(ctx context.Context, id int64) (bool, error)
	FailLostInitializations(ctx context.Context, quiet time.Duration) (int, error)
	RecordApplied(ctx context.Context, id int64, a onramp.Applied) error
	CheckRecorded(ctx context.Context, id int64, rs []onramp.Resource) error
	RemoveResources(ctx context.Context, id int64, kind string) error
	RemoveProject(ctx context.Context, id int64) error
	PromotionByID(ctx context.Context, id int64) (*onramp.Promotion, int64, error)
	StartPromotion(ctx context.Context, id int64, message string) (*onramp.Promotion, error)
	AdvancePromotion(ctx context.Context, id int64, status onramp.PromotionStatus, msg, hint string) (bool, error)
}

// Cluster is what the jobs need of Kubernetes.
type Cluster interface {
	CheckNamespaces(ctx context.Context, project string, namespaces []string) error
	ApplyEnvironment(ctx context.Context, spec kube.EnvironmentSpec, progress func(onramp.Resource)) ([]onramp.Resource, error)
	Verify(ctx context.Context, project string, envs []kube.EnvironmentSpec, applied []onramp.Resource) ([]onramp.Resource, error)
	DeleteProject(ctx context.Context, project string, progress func(kind string, gone bool, msg string)) error
	Remaining(ctx context.Context, project string) ([]string, error)
	Rollout(ctx context.Context, spec kube.EnvironmentSpec) (kube.Rollout, error)
}

// GitResolver returns the Git provider a project's repository lives on:
// the built-in server, or the provider of the project's git connection.
// The steps see only onramp.GitProvider.
type GitResolver interface {
	GitFor(ctx context.Context, p *onramp.Project) (onramp.GitProvider, error)
}

// Deps are the jobs' dependencies, set by main.
type Deps struct {
	Store     Store
	Templates onramp.TemplateService
	Git       GitResolver
	// Cluster may be nil when onramp runs without one; steps that need it
	// then fail with a hint saying how to configure it.
	Cluster Cluster
	// Namespaces are the namespaces no project may use.
	Namespaces onramp.NamespacePolicy
	Logger     *slog.Logger
	// AttemptTimeout bounds one attempt of a cluster step, so that an
	// unreachable apiserver turns into a logged, retried attempt.
	AttemptTimeout time.Duration
	// Checkpoint, if set, is called at the points where a test of crash
	// recovery may kill the worker process: after a step is recorded done
	// (with the step's name; verify's once its work is done, since its end
	// is finalize's) and after each object setup_gitops applies
	// ("setup_gitops:N"), and once a promotion's objects are applied
	// ("promote:applied"). Production code never sets it.
	Checkpoint func(point string)
}

func (d *Deps) checkpoint(point string) {
	if d.Checkpoint != nil {
		d.Checkpoint(point)
	}
}

// Register adds the jobs' workers to workers.
func Register(workers *river.Workers, d *Deps) {
	if d.AttemptTimeout == 0 {
		d.AttemptTimeout = 30 * time.Second
	}
	river.AddWorker(workers, &InitializeWorker{Deps: d})
	river.AddWorker(workers, &DeleteWorker{Deps: d})
	river.AddWorker(workers, &SweepWorker{Deps: d})
	river.AddWorker(workers, &PromoteWorker{Deps: d})
}

// PeriodicJobs are the jobs the queue's leader enqueues by itself: the
// sweep of lost initializations, every minute and at start.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return onramp.SweepJob{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

// SweepWorker fails the initializations whose job ended without recording
// an end (Store.FailLostInitializations), so that none says initializing
// for good.
type SweepWorker struct {
	river.WorkerDefaults[onramp.SweepJob]
	*Deps
}

// Work runs one sweep of projects unchanged for a minute.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[onramp.SweepJob]) error {
	n, err := w.Store.FailLostInitializations(ctx, time.Minute)
	if n > 0 {
		w.Logger.Warn("failed initializations whose job ended without an end; `onramp project retry` resumes them", "projects", n)
	}
	return err
}

// RetryPolicy retries quickly at first and at most every 30 s, so that a
// component that comes back is noticed soon.
type RetryPolicy struct{}

// NextRetry implements river.ClientRetryPolicy.
func (RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Second << min(job.Attempt-1, 5)
	return time.Now().Add(min(d, 30*time.Second))
}

// stepError is a failed step: the reason and what the user can do.
type stepError struct {
	err       error
	hint      string
	permanent bool
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// fail wraps err with a hint; permanent failures are not retried.
func fail(err error, hint string) error {
	return &stepError{err: err, hint: hint, permanent: permanent(err)}
}

// permanent reports whether retrying err cannot help: bad input, a template
// that does not build, the cluster refusing the request, or a Git provider
// refusing the token or holding a repository that is not onramp's. A
// provider that does not answer (EUNAVAILABLE) is retried.
func permanent(err error) bool {
	var se *stepError
	if errors.As(err, &se) && se.permanent {
		return true
	}
	switch onramp.ErrorCode(err) {
	case onramp.EINVALID, onramp.EUNAUTHORIZED:
		return true
	}
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

// retryDelay is how long err asks the job to wait before its next attempt:
// until the end of a rate limit a Git provider announced, or 0 for the
// queue's own backoff.
func retryDelay(err error) time.Duration {
	var limited interface{ RetryAfter() time.Time }
	if errors.As(err, &limited) {
		return max(time.Until(limited.RetryAfter()), 0)
	}
	return 0
}

func hintOf(err error) string {
	var se *stepError
	if errors.As(err, &se) {
		return se.hint
	}
	return ""
}

// message is the error as the user sees it: application errors' messages
// (which say what to do), other errors in full (they carry no secrets).
func message(err error) string {
	var e *onramp.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func errNoCluster() error {
	return &stepError{err: errors.New("no Kubernetes cluster is configured"), permanent: true,
		hint: "set KUBECONFIG or ONRAMP_KUBECONFIG (or run `onramp dev`), restart onramp, then retry the project"}
}

func countKinds(rs []onramp.Resource) string {
	g := onramp.GitOps{Resources: rs}
	g.Count()
	return fmt.Sprintf("%d namespaces, %d git repositories, %d kustomizations", g.Namespaces, g.GitRepositories, g.Kustomizations)
}
