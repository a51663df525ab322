package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Election says which Lease replicas compete for and how long a term is.
type Election struct {
	// Namespace and Name locate the Lease; the namespace must exist.
	Namespace, Name string
	// Identity names this replica in the Lease; it must be unique.
	Identity string
	// LeaseDuration is how long the others wait after the last renewal
	// before taking over from a leader that stopped renewing;
	// RenewDeadline is how long the leader retries a renewal before it
	// gives up leading; RetryPeriod is how often each replica tries.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Logger receives client-go's own lines about the Lease.
	Logger *slog.Logger
}

// DefaultElection returns the timings client-go's users usually take:
// a 15 s lease, renewed within 10 s, tried every 2 s.
func DefaultElection() Election {
	return Election{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
}

// Check says what is wrong with the timings, if anything: client-go
// needs LeaseDuration > RenewDeadline > RetryPeriod × 1.2.
func (e Election) Check() error {
	switch {
	case e.RetryPeriod <= 0:
		return fmt.Errorf("the retry period %s must be positive", e.RetryPeriod)
	case e.RenewDeadline <= e.RetryPeriod*12/10:
		return fmt.Errorf("the renew deadline %s must be longer than 1.2 × the retry period %s", e.RenewDeadline, e.RetryPeriod)
	case e.LeaseDuration <= e.RenewDeadline:
		return fmt.Errorf("the lease duration %s must be longer than the renew deadline %s", e.LeaseDuration, e.RenewDeadline)
	}
	return nil
}

// Lead competes for the Lease until ctx ends and runs lead for as long as
// it holds it: lead's context ends when the Lease is lost or ctx ends, and
// lead must then return. A lost Lease is competed for again. When ctx
// ends, Lead waits for lead to return before it releases the Lease, so
// the next leader never overlaps this one, and it returns once the Lease
// is released. It waits, logging once, for the Lease's namespace to exist.
func (c *Client) Lead(ctx context.Context, e Election, lead func(ctx context.Context)) error {
	if err := e.Check(); err != nil {
		return err
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	leases, err := coordinationv1.NewForConfig(c.cfg)
	if err != nil {
		return fmt.Errorf("lease client: %w", err)
	}
	c.awaitNamespace(ctx, e)
	// The elector sees only its own context: it releases the Lease once
	// lead has returned, not as soon as ctx ends.
	electCtx, release := context.WithCancel(klog.NewContext(context.WithoutCancel(ctx), logr.FromSlogHandler(e.Logger.Handler())))
	defer release()
	t := &term{lead: lead}
	stopped := context.AfterFunc(ctx, func() {
		t.stop()
		release()
	})
	defer stopped()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.Namespace, Name: e.Name},
		Client:     leases,
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.Identity},
	}
	for electCtx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: e.Name, ReleaseOnCancel: true,
			LeaseDuration: e.LeaseDuration, RenewDeadline: e.RenewDeadline, RetryPeriod: e.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(leadCtx context.Context) { t.run(ctx, leadCtx) },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		elector.Run(electCtx)
		t.wait() // lead of a lost term returns before the next is competed for
	}
	return nil
}

// awaitNamespace returns once the Lease's namespace exists or ctx ends,
// saying once in the log what to do while it does not.
func (c *Client) awaitNamespace(ctx context.Context, e Election) {
	said := false
	for {
		err := c.c.Get(ctx, client.ObjectKey{Name: e.Namespace}, &corev1.Namespace{})
		switch {
		case err == nil || ctx.Err() != nil:
			return
		case said:
		case apierrors.IsNotFound(err):
			e.Logger.Warn("waiting for onramp's namespace to lead the status watcher: create it, or set ONRAMP_NAMESPACE to the namespace onramp runs in",
				"namespace", e.Namespace)
			said = true
		default:
			e.Logger.Warn("waiting to read onramp's namespace to lead the status watcher", "namespace", e.Namespace, "error", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.RetryPeriod):
		}
	}
}

// term runs lead for one term at a time and lets Lead wait for it.
type term struct {
	lead func(context.Context)

	mu       sync.Mutex
	stopping bool
	cancel   context.CancelFunc
	done     chan struct{} // closed when the running lead returns
}

// run runs lead until the term (leadCtx) or Lead (ctx) ends, unless
// Lead is stopping already.
func (t *term) run(ctx, leadCtx context.Context) {
	t.mu.Lock()
	if t.stopping {
		t.mu.Unlock()
		return
	}
	runCtx, cancel := context.WithCancel(leadCtx)
	stop := context.AfterFunc(ctx, cancel)
	t.cancel, t.done = cancel, make(chan struct{})
	done := t.done
	t.mu.Unlock()
	defer close(done)
	defer stop()
	defer cancel()
	t.lead(runCtx)
}

// stop ends the running term, if any, waits for lead to return and
// starts no other.
func (t *term) stop() {
	t.mu.Lock()
	t.stopping = true
	if t.cancel != nil {
		t.cancel()
	}
	t.mu.Unlock()
	t.wait()
}

// wait returns once the running lead, if any, has returned.
func (t *term) wait() {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	if done != nil {
		<-done
	}
}
