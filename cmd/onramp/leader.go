package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/status"
)

// watcherLease is the Lease whose holder runs the status watcher.
const watcherLease = "onramp-watcher"

// watcherRestart is how long a leader waits to start a watcher again
// after one stopped with an error.
const watcherRestart = 10 * time.Second

// startLeading competes with the other replicas for the watcher's Lease
// in onramp's namespace and runs the status watcher while it holds it.
// Each term starts a new watcher: its resync and its informers' initial
// list re-deliver everything, so nothing that changed between terms is
// lost. The gauge onramp_leader says whether this replica leads.
func (a *App) startLeading(ctx context.Context, trees *gitserver.Provider) error {
	e := a.Config.Leader
	e.Namespace, e.Name, e.Identity = a.Config.Namespace, watcherLease, identity()
	e.Logger = a.Logger.With("component", "leader") // client-go's lines name the Lease as lock
	leading := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "onramp_leader", Help: "1 while this replica holds the Lease " + watcherLease + " and runs the status watcher, else 0.",
		ConstLabels: prometheus.Labels{"identity": e.Identity},
	})
	if err := a.registry.Register(leading); err != nil {
		return fmt.Errorf("leader metric: %w", err)
	}
	logger := a.Logger.With("identity", e.Identity)
	lead := func(ctx context.Context) {
		leading.Set(1)
		logger.Info("leading the status watcher", "lease", e.Namespace+"/"+e.Name)
		for ctx.Err() == nil {
			w := &status.Watcher{Store: a.DB, Kube: a.Kube, Trees: trees, Logger: a.Logger.With("component", "watcher")}
			if err := w.Run(ctx); err != nil && ctx.Err() == nil {
				logger.Error("status watcher stopped; starting it again in 10s", "error", err)
			}
			// A watcher that cannot start (Flux's CRDs not installed, say)
			// is tried again while this replica leads, not left stopped.
			select {
			case <-ctx.Done():
			case <-time.After(watcherRestart):
			}
		}
		leading.Set(0)
		logger.Info("stopped leading the status watcher")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Kube.Lead(ctx, e, lead); err != nil {
			logger.Error("leader election stopped: this replica never runs the status watcher", "error", err)
		}
	}()
	a.leading = func(stop context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-stop.Done():
			return fmt.Errorf("release the Lease %s: %w", watcherLease, stop.Err())
		}
	}
	return nil
}

// identity names this replica in the Lease: its host name (the pod's)
// and a random suffix, so that a restarted pod is not taken for its
// predecessor.
func identity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "onramp"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}
