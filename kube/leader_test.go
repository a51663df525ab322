package kube

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/localcluster/clustertest"
)

// testElection is a quick Election of a fresh Lease in namespace.
func testElection(namespace, name, identity string) Election {
	return Election{Namespace: namespace, Name: name, Identity: identity,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond}
}

// candidate runs Lead in the background and says whether it leads.
type candidate struct {
	leading atomic.Bool
	terms   atomic.Int32
	cancel  context.CancelFunc
	done    chan error
}

func campaign(k *Client, e Election) *candidate {
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- k.Lead(ctx, e, func(ctx context.Context) {
			c.terms.Add(1)
			c.leading.Store(true)
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond) // a watcher finishing its writes
			c.leading.Store(false)
		})
	}()
	return c
}

// stop stops the candidate and returns once Lead has returned.
func (c *candidate) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Lead = %v; want nil once its context ends", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lead did not return within 10s of its context's end")
	}
}

// Of two candidates exactly one leads; stopped, it returns only once its
// lead has returned, and the other leads within the retry period, not
// the lease's duration, because the Lease was released.
func TestLeadHandsOver(t *testing.T) {
	t.Parallel()
	k := newClusterEnv(t).kube
	ns := clustertest.Namespace(t)
	a := campaign(k, testElection(ns, "test-lease", "a"))
	testutil.Eventually(t, 10*time.Second, "a leads", func() string {
		if !a.leading.Load() {
			return "a does not lead"
		}
		return ""
	})
	b := campaign(k, testElection(ns, "test-lease", "b"))
	defer b.stop(t)
	time.Sleep(time.Second)
	if b.leading.Load() {
		t.Fatal("b leads while a holds the Lease")
	}
	stopped := time.Now()
	a.stop(t)
	if a.leading.Load() {
		t.Error("Lead returned while its lead still ran")
	}
	testutil.Eventually(t, 10*time.Second, "b leads", func() string {
		if !b.leading.Load() {
			return "b does not lead"
		}
		return ""
	})
	if took := time.Since(stopped); took > 1500*time.Millisecond {
		t.Errorf("b led %s after a stopped; want about the retry period: a releases the Lease", took)
	}
	if a.terms.Load() != 1 || b.terms.Load() != 1 {
		t.Errorf("terms: a %d, b %d; want 1 each", a.terms.Load(), b.terms.Load())
	}
}

// A candidate waits for the Lease's namespace to exist and stops cleanly
// while it waits.
func TestLeadWithoutNamespace(t *testing.T) {
	t.Parallel()
	k := newClusterEnv(t).kube
	c := campaign(k, testElection("onramp-absent-"+uniqueProject(), "test-lease", "a"))
	time.Sleep(500 * time.Millisecond)
	if c.leading.Load() {
		t.Error("leads without a namespace for its Lease")
	}
	c.stop(t)
}

func TestElectionCheck(t *testing.T) {
	for _, tt := range []struct {
		name string
		e    Election
		want string
	}{
		{"defaults", DefaultElection(), ""},
		{"no retry", Election{LeaseDuration: time.Second, RenewDeadline: time.Second}, "retry period"},
		{"renew too close to retry", Election{LeaseDuration: 3 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second}, "renew deadline"},
		{"lease not past renew", Election{LeaseDuration: 2 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: time.Second}, "lease duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Check()
			if got := errString(err); (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) {
				t.Errorf("Check() = %q; want one naming %q", got, tt.want)
			}
		})
	}
}

// leadAs takes and releases a Lease in namespace with cfg's credentials:
// get, create and update of Leases there are enough.
func leadAs(t *testing.T, cfg *rest.Config, namespace string) {
	t.Helper()
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := campaign(k, testElection(namespace, "lease-"+uniqueProject(), "rbac"))
	testutil.Eventually(t, 10*time.Second, "leading in "+namespace, func() string {
		if !c.leading.Load() {
			return "not leading"
		}
		return ""
	})
	c.stop(t)
}
