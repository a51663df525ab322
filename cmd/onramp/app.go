package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/gitserver"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/pipeline"
	"github.com/onramp/onramp/secrets"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/templates"
	"github.com/onramp/onramp/web"
)

// Roles say what an App runs.
type Roles struct {
	HTTP    bool // API, web pages and the built-in Git server
	Workers bool // the initialization and deletion jobs
}

// App is a running onramp: database, queue, Git, cluster, API.
type App struct {
	Config Config
	Logger *slog.Logger
	DB     *store.DB
	Queue  *store.Queue
	Kube   *kube.Client // nil without a cluster
	// URL is where the HTTP server listens, once started.
	URL string

	rest     *rest.Config
	http     *http.Server
	listener net.Listener
	registry *prometheus.Registry // served on /metrics
	// What Close stops, in this order; each is nil if not started.
	jobs    func(context.Context) error // River: no new jobs; running ones finish or go back
	leading func(context.Context) error // the status watcher, then its Lease
	serving func(context.Context) error // event streams told to reconnect, then HTTP
	queue   func() error                // River's own connections
}

// OpenApp connects to everything cfg names and starts what roles ask for.
func OpenApp(ctx context.Context, cfg Config, roles Roles, logger *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Logger: logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	namespaces, err := cfg.namespacePolicy()
	if err != nil {
		return nil, err
	}
	if err := cfg.Leader.Check(); err != nil {
		return nil, fmt.Errorf("--leader-lease, --leader-renew, --leader-retry: %w", err)
	}
	if err := a.openDB(ctx); err != nil {
		return nil, err
	}
	external, err := a.gitProvider(ctx)
	if err != nil {
		return nil, err
	}
	tmpl, err := templates.New(cfg.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	if err := a.openCluster(); err != nil {
		return nil, err
	}
	if roles.HTTP {
		// Listen first: the built-in Git server's URL is the listen address.
		if a.listener, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w (is another onramp running? set ONRAMP_ADDR)", cfg.Addr, err)
		}
		a.URL = "http://" + a.listener.Addr().String()
	}
	gitURL := strings.TrimSuffix(cfg.GitURL, "/")
	if gitURL == "" {
		if a.URL == "" {
			return nil, errors.New("set ONRAMP_GIT_URL to the Git base URL that Flux clones from (the built-in server of an `onramp serve`, e.g. http://HOST:8080/git)")
		}
		gitURL = a.URL + "/git"
	}
	gitRoot := filepath.Join(cfg.DataDir, "git")
	provider := &gitserver.Provider{Root: gitRoot, BaseURL: gitURL}
	resolver := gitResolver{builtin: gitserver.Resolver{Provider: provider, Credentials: a.DB}, db: a.DB, publicURL: cfg.PublicURL}
	// With a provider for every project, the built-in server's storage
	// holds no new repository: replicas need not share it.
	storage := gitRoot
	if external {
		storage = ""
	}
	if err := a.startQueue(ctx, roles, tmpl, resolver, namespaces, storage); err != nil {
		return nil, err
	}
	var projects onramp.ProjectService = a.DB
	if external {
		projects = defaultGit{ProjectService: a.DB, db: a.DB, checker: gitprovider.Checker{}, conn: a.Config.GitProvider, logger: logger}
	}
	if roles.HTTP {
		a.DB.Listen(logger) // streams wake at other replicas' commits too
		// One limiter of refused credentials for the API, the pages and Git.
		auth := api.NewAuthLimiter(a.DB, a.DB, cfg.Limits.AuthFailuresPerMinute)
		srv := &api.Server{
			Projects: projects, Team: a.DB, Templates: tmpl, Auth: auth, Logger: logger,
			Ready: a.ready, Changed: a.DB.Changed, Poll: a.Config.EventPoll, Namespaces: namespaces,
			GitConnections: a.DB, GitChecker: gitprovider.Checker{}, GitHook: resolver.gitHook(logger),
			Registry: a.registry, Limits: cfg.Limits,
			Git: &gitserver.Server{Root: gitRoot, Auth: auth, Logger: logger, OnPush: func(ctx context.Context, project string) {
				if err := a.DB.RequestRepair(context.WithoutCancel(ctx), project); err != nil {
					logger.Warn("deploy pushed revision", "project", project, "error", err)
				}
			}},
			Web: web.New(web.Deps{Projects: projects, Auth: auth, Logger: logger}),
		}
		a.http = srv.HTTPServer()
		go func() {
			if err := a.http.Serve(srv.LimitListener(a.listener)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("HTTP server stopped", "error", err)
			}
		}()
		a.serving = a.shutdownHTTP
	}
	return a, nil
}

func (a *App) openDB(ctx context.Context) error {
	url, err := a.Config.databaseURL()
	if err != nil {
		return err
	}
	if a.DB, err = store.Open(ctx, url); err != nil {
		return err
	}
	if err := a.DB.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	box, err := secrets.Load(a.Config.SecretKey, a.Config.DataDir)
	if err != nil {
		return err
	}
	a.DB.Cipher = box
	return a.DB.CheckKey(ctx)
}

func (a *App) openCluster() error {
	cfg, source, err := a.Config.restConfig()
	if err != nil {
		return err
	}
	if cfg == nil {
		a.Logger.Warn("no Kubernetes cluster configured: projects will fail at setup_gitops until KUBECONFIG or ONRAMP_KUBECONFIG is set")
		return nil
	}
	a.rest = cfg
	// controller-runtime logs through a process-wide logger; give it ours.
	ctrllog.SetLogger(logr.FromSlogHandler(a.Logger.Handler()))
	if a.Kube, err = kube.New(cfg); err != nil {
		return fmt.Errorf("cluster client: %w", err)
	}
	a.Logger.Info("cluster", "kubeconfig", source, "host", cfg.Host)
	return nil
}

// startQueue opens the job queue and, for a process that runs jobs,
// claims the built-in Git server's storage (unless it is ""), then leads
// the status watcher when its turn comes and starts the workers.
func (a *App) startQueue(ctx context.Context, roles Roles, tmpl *templates.Registry, resolver gitResolver, namespaces onramp.NamespacePolicy, storage string) error {
	// River tells its producers' job counts every minute at info; onramp's
	// own logs say what its jobs do, so River speaks from warn on unless
	// onramp logs debug.
	quiet := slog.New(atLeast{a.Logger.Handler().WithGroup("river"), slog.LevelWarn})
	if a.Logger.Enabled(ctx, slog.LevelDebug) {
		quiet = slog.New(a.Logger.Handler().WithGroup("river"))
	}
	opts := store.QueueOptions{Logger: quiet}
	if roles.Workers {
		deps := &pipeline.Deps{Store: a.DB, Templates: tmpl, Git: resolver, Logger: a.Logger, Namespaces: namespaces,
			// An attempt that hangs on the cluster ends well within the job's
			// time, so that it is logged and retried.
			AttemptTimeout: min(30*time.Second, a.Config.JobTimeout/2)}
		if testHooks != nil {
			testHooks(deps)
		}
		if a.Kube != nil {
			deps.Cluster = a.Kube
		}
		workers := river.NewWorkers()
		pipeline.Register(workers, deps)
		opts = store.QueueOptions{Workers: workers, MaxWorkers: a.Config.Workers, RetryPolicy: pipeline.RetryPolicy{},
			Logger: quiet, JobTimeout: a.Config.JobTimeout, Periodic: pipeline.PeriodicJobs(), SoftStopTimeout: jobsStopTimeout}
	}
	q, err := store.OpenQueue(ctx, a.DB, opts)
	if err != nil {
		return err
	}
	a.Queue = q
	a.queue = q.Close
	if !roles.Workers {
		return nil
	}
	if storage != "" {
		if err := a.claimGitStorage(ctx, q, storage); err != nil {
			return err
		}
	}
	if a.Kube != nil {
		if err := a.startLeading(ctx, resolver.builtin.Provider); err != nil {
			return err
		}
	}
	// The queue stops when Close says, not when ctx ends: Close stops it
	// before anything the running jobs use.
	if err := q.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	a.jobs = q.Stop
	return nil
}

// jobsStopTimeout is how long a stopping replica lets its running jobs
// finish; River then cancels them and they are retried, on another
// replica if this one is gone. With the Lease's release and the HTTP
// server's shutdown it fits the chart's 30 s grace period.
const jobsStopTimeout = 15 * time.Second

// shutdownHTTP tells the event streams to reconnect and closes them
// (api.Server.HTTPServer registers that on Shutdown), and lets other
// requests finish; what is still open when ctx ends is closed.
func (a *App) shutdownHTTP(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.http.Shutdown(ctx); err != nil {
		return errors.Join(fmt.Errorf("shut the HTTP server down: %w", err), a.http.Close())
	}
	return nil
}

// testHooks, nil in onramp itself, lets the tests' build of this command
// change the jobs' dependencies: crash tests kill the worker process at a
// named point of a job.
var testHooks func(*pipeline.Deps)

// ready checks the database and the cluster.
func (a *App) ready(ctx context.Context) map[string]error {
	checks := map[string]error{"database": a.DB.Ping(ctx)}
	if a.Kube == nil {
		checks["cluster"] = errors.New("not configured: set KUBECONFIG or ONRAMP_KUBECONFIG")
	} else {
		checks["cluster"] = a.pingCluster(ctx)
	}
	return checks
}

func (a *App) pingCluster(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(a.rest)
	if err != nil {
		return err
	}
	if err := cs.RESTClient().Get().AbsPath("/readyz").Do(ctx).Error(); err != nil {
		return fmt.Errorf("apiserver %s not ready: %w", a.rest.Host, err)
	}
	return nil
}

// Close stops the App the way a replica hands its work over: it stops
// taking jobs and lets running ones finish (or, after jobsStopTimeout,
// cancels them to be retried elsewhere); stops the status watcher and
// releases its Lease, so another replica leads at once; tells the event
// streams to reconnect and closes them with the HTTP server; then closes
// the database.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), jobsStopTimeout+10*time.Second)
	defer cancel()
	var errs []error
	if a.jobs != nil {
		errs = append(errs, a.jobs(ctx))
	}
	if a.leading != nil {
		errs = append(errs, a.leading(ctx))
	}
	if a.serving != nil {
		errs = append(errs, a.serving(ctx))
	}
	if a.queue != nil {
		errs = append(errs, a.queue())
	}
	if a.listener != nil && a.http == nil {
		a.listener.Close()
	}
	if a.DB != nil {
		errs = append(errs, a.DB.Close())
	}
	return errors.Join(errs...)
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// atLeast is a slog.Handler that drops records below min.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(attrs), h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}
