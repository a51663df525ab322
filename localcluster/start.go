package localcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/dynamic"
)

// startTimeout bounds Start when the caller's context has no deadline. It is
// generous because parallel test binaries may start clusters at once on a
// small machine.
const startTimeout = 3 * time.Minute

// startAttempts is how often Start tries again when a port it picked was
// taken before a component could bind it.
const startAttempts = 3

// Start runs etcd, kube-apiserver, kube-controller-manager and the Flux
// source and kustomize controllers from opts.BinDir on random 127.0.0.1 ports,
// installs the Flux CRDs and the flux-system namespace, and returns once
// every component answers ready. Objects persist in opts.DataDir.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.DataDir == "" {
		return nil, errors.New("start local cluster: Options.DataDir is empty; pass a folder to keep the cluster's data in")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	opts.DataDir = dataDir
	if err := CheckBinDir(opts.BinDir); err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("start local cluster: create data dir: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("start local cluster: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, opts, attempt > 1)
		if err == nil {
			c.unlock = unlock
			return c, nil
		}
		if !errors.Is(err, errPortInUse) || attempt == startAttempts {
			err = errors.Join(err, unlock())
			return nil, fmt.Errorf("start local cluster in %s: %w", dataDir, err)
		}
		opts.Log.Warn("localcluster port taken during start; retrying with new ports", "attempt", attempt, "err", err)
	}
}

// start makes one attempt at starting the control plane, with new ports when
// freshPorts is set. On failure it stops whatever it started.
func start(ctx context.Context, opts Options, freshPorts bool) (*Cluster, error) {
	begin := time.Now()
	p, err := ensurePKI(filepath.Join(opts.DataDir, "pki"))
	if err != nil {
		return nil, err
	}
	ports, previous, err := choosePorts(opts.DataDir, portCount, freshPorts)
	if err != nil {
		return nil, err
	}
	l := newLayout(opts.BinDir, opts.DataDir, p, ports, previous)
	for _, dir := range []string{l.dir("etcd"), l.dir("source-controller", "storage"), l.dir("tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if err := l.writeKubeconfig(); err != nil {
		return nil, err
	}
	c := &Cluster{
		dataDir:    opts.DataDir,
		kubeconfig: l.kubeconfig,
		restConfig: l.restConfig(),
		log:        opts.Log,
		done:       make(chan struct{}),
	}
	if err := c.startComponents(ctx, l, begin); err != nil {
		c.stopProcesses()
		return nil, err
	}
	for _, p := range c.procs {
		go c.watch(p)
	}
	opts.Log.Info("localcluster ready", "took", time.Since(begin).Round(time.Millisecond), "kubeconfig", l.kubeconfig, "ports", l.String())
	return c, nil
}

// startComponents starts each component in dependency order and waits until
// all are ready.
func (c *Cluster) startComponents(ctx context.Context, l *layout, begin time.Time) error {
	checks := newHealthChecks(l)
	// The apiserver starts right away: its etcd client retries until etcd
	// listens, and the two starts overlap.
	etcd, err := c.run(l, Etcd, l.etcdArgs(), nil, checks.etcdURL)
	if err != nil {
		return err
	}
	api, err := c.run(l, KubeAPIServer, l.apiServerArgs(), nil, checks.apiURL)
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, etcd, checks.etcd, begin); err != nil {
		return err
	}
	if err := c.waitReady(ctx, api, checks.api, begin); err != nil {
		return err
	}
	return c.startControllers(ctx, l, checks, begin)
}

// startControllers starts kube-controller-manager, installs the Flux CRDs,
// starts the Flux controllers and waits for all three. kustomize-controller
// starts only once no source points at an old artifact server (see
// staleArtifacts).
func (c *Cluster) startControllers(ctx context.Context, l *layout, checks *healthChecks, begin time.Time) error {
	kcm, err := c.run(l, KubeControllerManager, l.controllerManagerArgs(), nil, checks.kcmURL)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(c.restConfig)
	if err != nil {
		return fmt.Errorf("install flux: %w", err)
	}
	if err := installFlux(ctx, c.restConfig, dyn, filepath.Join(l.binDir, crdDirName)); err != nil {
		return err
	}
	c.log.Info("localcluster flux CRDs served", "after", time.Since(begin).Round(time.Millisecond))
	// Listing sources is skipped unless needed: the first request for a new
	// CRD stalls ~2 s under load, which the controllers absorb in parallel.
	var stale []string
	storage := "http://" + addr(l.storagePort) + "/"
	if l.storageMoved {
		if stale, err = staleArtifacts(ctx, dyn, storage); err != nil {
			return err
		}
	}
	sc, err := c.run(l, SourceController, l.sourceControllerArgs(), l.fluxEnv(), checks.scURL)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		if err := c.waitArtifactsMoved(ctx, sc, checks.sc, dyn, storage, stale, begin); err != nil {
			return err
		}
	}
	kc, err := c.run(l, KustomizeController, l.kustomizeControllerArgs(), l.fluxEnv(), checks.kcURL)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		p     *process
		check func(context.Context) error
	}{{kcm, checks.kcm}, {sc, checks.sc}, {kc, checks.kc}} {
		if err := c.waitReady(ctx, w.p, w.check, begin); err != nil {
			return err
		}
	}
	return nil
}

// run starts one component and records it in c.
func (c *Cluster) run(l *layout, name string, args, env []string, url string) (*process, error) {
	p, err := startProcess(name, l.bin(name), args, env, l.dir("logs"))
	if err != nil {
		return nil, err
	}
	p.url = url
	c.procs = append(c.procs, p)
	return p, nil
}

// waitReady polls check until it succeeds, p exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, p *process, check func(context.Context) error, begin time.Time) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			c.log.Info("localcluster component ready", "component", p.name, "pid", p.pid(), "after", time.Since(begin).Round(time.Millisecond))
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %v: %w; last lines of %s:\n%s", p.name, p.url, err, ctx.Err(), p.logPath, tailFile(p.logPath, 20))
		case <-tick.C:
		}
	}
}
