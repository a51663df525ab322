package localcluster

import (
	"log/slog"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// Options configures Start.
type Options struct {
	// BinDir holds the binaries and crds/ folder, as returned by Build or Lookup.
	BinDir string
	// DataDir holds etcd's data, certificates, logs and the kubeconfig. Reuse
	// it to keep objects across restarts; only one cluster may use it at a time.
	DataDir string
	// Log receives progress messages; nil discards them.
	Log *slog.Logger
}

// Component describes one running process of the control plane.
type Component struct {
	// Name is one of Etcd, KubeAPIServer, KubeControllerManager,
	// SourceController, KustomizeController.
	Name string
	// PID is the process id; the process leads its own process group.
	PID int
	// URL is the endpoint its readiness was checked on.
	URL string
	// LogPath is the file its stdout and stderr go to.
	LogPath string
}

// Cluster is a running control plane. Stop it when done; a killed parent
// process takes the children with it.
type Cluster struct {
	dataDir    string
	kubeconfig string
	restConfig *rest.Config
	procs      []*process // in start order
	unlock     func() error
	log        *slog.Logger

	stopOnce sync.Once
	stopErr  error
	done     chan struct{} // closed when the cluster stops running
	failOnce sync.Once
	mu       sync.Mutex
	err      error // why the cluster stopped on its own
	stopping bool
}

// stopGrace is how long each component gets to exit after SIGTERM.
const stopGrace = 10 * time.Second

// RESTConfig returns a copy of the admin configuration (client certificate in
// group system:masters).
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// KubeconfigPath returns the admin kubeconfig file, usable by kubectl:
// KUBECONFIG=$(path) kubectl get ns.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }

// DataDir returns the data directory the cluster runs in.
func (c *Cluster) DataDir() string { return c.dataDir }

// Components lists the running processes in start order.
func (c *Cluster) Components() []Component {
	out := make([]Component, 0, len(c.procs))
	for _, p := range c.procs {
		out = append(out, Component{Name: p.name, PID: p.pid(), URL: p.url, LogPath: p.logPath})
	}
	return out
}

// Done is closed when the cluster stops running: after Stop, or when a
// component exits on its own (then Err says which and why).
func (c *Cluster) Done() <-chan struct{} { return c.done }

// Err returns why the cluster stopped on its own, or nil.
func (c *Cluster) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// watch records the first component that exits while the cluster is meant to
// be running, and closes done.
func (c *Cluster) watch(p *process) {
	<-p.done
	c.mu.Lock()
	stopping := c.stopping
	if !stopping && c.err == nil {
		c.err = p.exitError()
	}
	c.mu.Unlock()
	if !stopping {
		c.log.Error("localcluster component exited", "component", p.name, "err", p.exitErr, "log", p.logPath)
		c.failOnce.Do(func() { close(c.done) })
	}
}

// Stop terminates the components in reverse dependency order (Flux and the
// controller manager, then the apiserver, then etcd): SIGTERM to each process
// group, SIGKILL after a grace period, and waits until every process is
// reaped, so its ports are free when Stop returns. It is safe to call twice.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

// stop does the work of Stop.
func (c *Cluster) stop() error {
	start := time.Now()
	c.stopProcesses()
	var err error
	if c.unlock != nil {
		err = c.unlock()
	}
	c.failOnce.Do(func() { close(c.done) })
	c.log.Info("localcluster stopped", "took", time.Since(start).Round(time.Millisecond))
	return err
}

// stopProcesses stops every started process in tiers: the controllers while
// the apiserver still answers (source-controller takes ~10 s to exit when it
// is gone, ~1 s otherwise), then the apiserver, then etcd. Start uses it to
// clean up after a failed attempt.
func (c *Cluster) stopProcesses() {
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	byName := map[string]*process{}
	for _, p := range c.procs {
		byName[p.name] = p
	}
	tiers := [][]string{{SourceController, KustomizeController, KubeControllerManager}, {KubeAPIServer}, {Etcd}}
	for _, tier := range tiers {
		var group []*process
		for _, name := range tier {
			if p := byName[name]; p != nil {
				p.signal(syscall.SIGTERM)
				group = append(group, p)
			}
		}
		begin := time.Now()
		for _, p := range group {
			if p.wait(stopGrace) {
				c.log.Warn("localcluster component ignored SIGTERM; killed", "component", p.name, "grace", stopGrace)
			}
			c.log.Debug("localcluster component stopped", "component", p.name, "after", p.exitAt.Sub(begin).Round(time.Millisecond))
		}
	}
}
