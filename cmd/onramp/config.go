package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/api"
	"github.com/onramp/onramp/kube"
)

// Config is the server's configuration: flags win over the environment.
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	Kubeconfig  string
	GitURL      string
	// PublicURL is where Git providers reach onramp's webhooks; "" means
	// none is registered and Flux polls a provider's repositories.
	PublicURL    string
	SecretKey    string
	TemplatesDir string
	Workers      int
	JobTimeout   time.Duration
	EventPoll    time.Duration
	LogLevel     string
	// Namespace is onramp's own namespace; ReservedNamespaces are more
	// that no project may use (a comma-separated list; "prefix*" matches
	// a prefix).
	Namespace          string
	ReservedNamespaces string
	// Limits bound what one client can hold of the HTTP server.
	Limits api.Limits
	// GitProvider, when its Kind is set, is where projects that name no
	// git connection get their repository instead of the built-in server.
	GitProvider onramp.GitConnectionCreate
	// Leader times the Lease the replicas compete for to run the status
	// watcher (its namespace and identity are set by OpenApp).
	Leader kube.Election
}

// bind registers the configuration flags on fs with defaults from getenv.
func (c *Config) bind(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	kubeconfig := env("ONRAMP_KUBECONFIG", getenv("KUBECONFIG"))
	fs.StringVar(&c.Addr, "addr", env("ONRAMP_ADDR", "127.0.0.1:8080"), "listen address (ONRAMP_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("ONRAMP_DATA_DIR", "./.onramp"), "SQLite file, Git repositories, local cluster state (ONRAMP_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("ONRAMP_DATABASE_URL"), "sqlite:///path or postgres://… (ONRAMP_DATABASE_URL; default SQLite in the data dir)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", kubeconfig, "kubeconfig of the cluster (ONRAMP_KUBECONFIG, KUBECONFIG; default in-cluster, then ~/.kube/config)")
	fs.StringVar(&c.GitURL, "git-url", getenv("ONRAMP_GIT_URL"), "Git base URL Flux clones from (ONRAMP_GIT_URL; default the built-in server)")
	fs.StringVar(&c.PublicURL, "public-url", getenv("ONRAMP_PUBLIC_URL"), "onramp's URL as Git providers reach it, for push webhooks (ONRAMP_PUBLIC_URL; default none: Flux polls)")
	fs.StringVar(&c.TemplatesDir, "templates-dir", getenv("ONRAMP_TEMPLATES_DIR"), "directory of extra templates (ONRAMP_TEMPLATES_DIR)")
	fs.IntVar(&c.Workers, "workers", 10, "jobs run at once by this process")
	fs.DurationVar(&c.JobTimeout, "job-timeout", 5*time.Minute, "longest attempt of a job; a job whose worker died is retried after it")
	fs.DurationVar(&c.EventPoll, "event-poll", 100*time.Millisecond, "how often an event stream reads events without being woken (this process's own writes wake it at once, and on PostgreSQL other replicas' too)")
	fs.StringVar(&c.Namespace, "namespace", env("ONRAMP_NAMESPACE", ownNamespace()), "onramp's own namespace, which no project may use (ONRAMP_NAMESPACE)")
	fs.StringVar(&c.ReservedNamespaces, "reserved-namespaces", getenv("ONRAMP_RESERVED_NAMESPACES"), "more namespaces no project may use, comma-separated; prefix* matches a prefix (ONRAMP_RESERVED_NAMESPACES)")
	c.bindLimits(fs)
	c.bindLeader(fs)
	c.bindGitProvider(fs, env)
	fs.StringVar(&c.LogLevel, "log-level", env("ONRAMP_LOG_LEVEL", "info"), "debug, info, warn or error (ONRAMP_LOG_LEVEL)")
	// The key is read from the environment only, never from a flag that
	// would show in `ps`.
	c.SecretKey = getenv("ONRAMP_SECRET_KEY")
	c.GitProvider.Token = getenv("ONRAMP_GIT_PROVIDER_TOKEN")
}

// bindGitProvider registers the flags of the server's default Git
// provider; its token is read from the environment only.
func (c *Config) bindGitProvider(fs *flag.FlagSet, env func(name, def string) string) {
	g := &c.GitProvider
	fs.StringVar(&g.Kind, "git-provider-kind", env("ONRAMP_GIT_PROVIDER_KIND", ""), "gitea, github or gitlab: create the repository of every project that names no git connection there, with ONRAMP_GIT_PROVIDER_TOKEN (ONRAMP_GIT_PROVIDER_KIND; default the built-in server)")
	fs.StringVar(&g.URL, "git-provider-url", env("ONRAMP_GIT_PROVIDER_URL", ""), "that provider's root URL (ONRAMP_GIT_PROVIDER_URL)")
	fs.StringVar(&g.Owner, "git-provider-owner", env("ONRAMP_GIT_PROVIDER_OWNER", ""), "the user or organisation owning the repositories there (ONRAMP_GIT_PROVIDER_OWNER)")
}

// serviceAccountNamespace is where Kubernetes tells a pod its namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ownNamespace is the namespace onramp runs in, read from its service
// account in a cluster, else onramp.DefaultNamespace.
func ownNamespace() string {
	if b, err := os.ReadFile(serviceAccountNamespace); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	return onramp.DefaultNamespace
}

// namespacePolicy is the configured namespaces no project may use.
func (c *Config) namespacePolicy() (onramp.NamespacePolicy, error) {
	reserved, err := onramp.ParseReserved(c.ReservedNamespaces)
	if err != nil {
		return onramp.NamespacePolicy{}, fmt.Errorf("--reserved-namespaces (ONRAMP_RESERVED_NAMESPACES): %w", err)
	}
	return onramp.NamespacePolicy{Own: c.Namespace, Reserved: reserved}, nil
}

// bindLimits registers the flags of the HTTP server's limits.
func (c *Config) bindLimits(fs *flag.FlagSet) {
	d := api.DefaultLimits()
	l := &c.Limits
	fs.DurationVar(&l.ReadTimeout, "read-timeout", d.ReadTimeout, "longest read of a request, body included (Git pushes and event streams get longer)")
	fs.DurationVar(&l.WriteTimeout, "write-timeout", d.WriteTimeout, "longest write of an answer (event streams get it per write, Git transfers longer)")
	fs.DurationVar(&l.IdleTimeout, "idle-timeout", d.IdleTimeout, "how long a kept-alive connection may stay idle")
	fs.IntVar(&l.MaxConnections, "max-connections", d.MaxConnections, "open connections the server accepts; more are answered 429")
	fs.IntVar(&l.MaxConnectionsPerClient, "max-connections-per-client", d.MaxConnectionsPerClient, "open connections (and so requests) one client address may hold")
	fs.IntVar(&l.MaxStreamsPerUser, "max-streams-per-user", d.MaxStreamsPerUser, "event streams one user may hold open")
	fs.IntVar(&l.AuthFailuresPerMinute, "max-auth-failures", d.AuthFailuresPerMinute, "refused tokens (API, sign-in, Git) a client address may send per minute before its checks are refused for a while")
}

// bindLeader registers the flags of the status watcher's Lease.
func (c *Config) bindLeader(fs *flag.FlagSet) {
	d := kube.DefaultElection()
	fs.DurationVar(&c.Leader.LeaseDuration, "leader-lease", d.LeaseDuration, "how long the other replicas wait to take over the status watcher from a leader that stopped renewing its Lease (one that stops cleanly hands it over at once)")
	fs.DurationVar(&c.Leader.RenewDeadline, "leader-renew", d.RenewDeadline, "how long the leader tries to renew its Lease before it stops leading; shorter than --leader-lease")
	fs.DurationVar(&c.Leader.RetryPeriod, "leader-retry", d.RetryPeriod, "how often each replica tries to take or renew the Lease")
}

// databaseURL returns the configured database, or SQLite in the data dir.
func (c *Config) databaseURL() (string, error) {
	if c.DatabaseURL != "" {
		return c.DatabaseURL, nil
	}
	abs, err := filepath.Abs(filepath.Join(c.DataDir, "onramp.db"))
	if err != nil {
		return "", err
	}
	return "sqlite://" + abs, nil
}

// restConfig finds the cluster: the kubeconfig given, in-cluster config,
// then ~/.kube/config. It returns nil when there is none.
func (c *Config) restConfig() (*rest.Config, string, error) {
	if c.Kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			return nil, "", fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
		}
		return cfg, c.Kubeconfig, nil
	}
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, "in-cluster", nil
	}
	home, _ := os.UserHomeDir()
	path := filepath.Join(home, ".kube", "config")
	if _, err := os.Stat(path); err != nil {
		return nil, "", nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, path, nil
}

// logLevel parses the configured level.
func (c *Config) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	return l, nil
}
