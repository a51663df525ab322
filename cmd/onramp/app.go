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
	"github.com/onramp/onramp/status"
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
	stop     []func(context.Context) error
}

// OpenApp connects to everything cfg names and starts what roles ask for.
func OpenApp(ctx context.Context, cfg Config, roles Roles, logger *slog.Logger) (_ *App, err error) {
	a := &App{Config: cfg, Logger: logger}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	namespaces, err := cfg.namespacePolicy()
	if err != nil {
		return nil, err
	}
	if err := a.openDB(ctx); err != nil {
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
	if err := a.startQueue(ctx, roles, tmpl, resolver, namespaces); err != nil {
		return nil, err
	}
	if roles.HTTP {
		a.DB.Listen(logger) // streams wake at other replicas' commits too
		// One limiter of refused credentials for the API, the pages and Git.
		auth := api.NewAuthLimiter(a.DB, a.DB, cfg.Limits.AuthFailuresPerMinute)
		srv := &api.Server{
			Projects: a.DB, Templates: tmpl, Auth: auth, Logger: logger,
			Ready: a.ready, Changed: a.DB.Changed, Poll: a.Config.EventPoll, Namespaces: namespaces,
			GitConnections: a.DB, GitChecker: gitprovider.Checker{}, GitHook: resolver.gitHook(logger),
			Registry: prometheus.NewRegistry(), Limits: cfg.Limits,
			Git: &gitserver.Server{Root: gitRoot, Auth: auth, Logger: logger, OnPush: func(ctx context.Context, project string) {
				if err := a.DB.RequestRepair(context.WithoutCancel(ctx), project); err != nil {
					logger.Warn("deploy pushed revision", "project", project, "error", err)
				}
			}},
			Web: web.New(web.Deps{Projects: a.DB, Auth: auth, Logger: logger}),
		}
		a.http = srv.HTTPServer()
		go func() {
			if err := a.http.Serve(srv.LimitListener(a.listener)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("HTTP server stopped", "error", err)
			}
		}()
		a.stop = append(a.stop, a.http.Shutdown)
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

func (a *App) startQueue(ctx context.Context, roles Roles, tmpl *templates.Registry, resolver gitResolver, namespaces onramp.NamespacePolicy) error {
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
			w := &status.Watcher{Store: a.DB, Kube: a.Kube, Trees: resolver.builtin.Provider, Logger: a.Logger.With("component", "watcher")}
			a.background(ctx, "status watcher", w.Run)
		}
		workers := river.NewWorkers()
		pipeline.Register(workers, deps)
		opts = store.QueueOptions{Workers: workers, MaxWorkers: a.Config.Workers, RetryPolicy: pipeline.RetryPolicy{},
			Logger: quiet, JobTimeout: a.Config.JobTimeout, Periodic: pipeline.PeriodicJobs()}
	}
	q, err := store.OpenQueue(ctx, a.DB, opts)
	if err != nil {
		return err
	}
	a.Queue = q
	a.stop = append(a.stop, func(context.Context) error { return q.Close() })
	if !roles.Workers {
		return nil
	}
	if err := q.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	a.stop = append(a.stop, q.Stop)
	return nil
}

// testHooks, nil in onramp itself, lets the tests' build of this command
// change the jobs' dependencies: crash tests kill the worker process at a
// named point of a job.
var testHooks func(*pipeline.Deps)

// background runs fn until the App closes, logging a failure.
func (a *App) background(ctx context.Context, name string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Error(name+" stopped", "error", err)
		}
	}()
	a.stop = append(a.stop, func(context.Context) error {
		cancel()
		<-done
		return nil
	})
}

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

// Close stops everything in the reverse order it started.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for i := len(a.stop) - 1; i >= 0; i-- {
		errs = append(errs, a.stop[i](ctx))
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
