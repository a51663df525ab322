package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/onramp/onramp/localcluster"
	"github.com/onramp/onramp/localgitea"
)

// dev runs everything on one machine: a local control plane with Flux,
// then onramp on SQLite with its built-in Git server, and prints how to
// use it. The cluster's objects and onramp's data persist in the data dir.
func (m *Main) dev(ctx context.Context, args []string) error {
	var cfg Config
	fs := m.flags("dev", &cfg)
	user := fs.String("user", "dev", "the user whose API token is printed")
	withGitea := fs.Bool("gitea", false, "also run a local Gitea and connect the user to it as the git connection \"gitea\"")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level, err := cfg.logLevel()
	if err != nil {
		return err
	}
	logger := newLogger(m.Stderr, level)
	binDir, err := m.clusterBinaries(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, "starting the local Kubernetes control plane with Flux…")
	start := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		BinDir: binDir, DataDir: filepath.Join(cfg.DataDir, "cluster"), Log: logger.With("component", "localcluster"),
	})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	fmt.Fprintf(m.Stdout, "control plane ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	cfg.Kubeconfig = cluster.KubeconfigPath()
	// In a real cluster onramp's namespace is where it is installed; the
	// local one has it made, for the status watcher's Lease.
	if err := createNamespace(ctx, cluster.KubeconfigPath(), cfg.Namespace); err != nil {
		return err
	}
	var g *localgitea.Gitea
	if *withGitea {
		if g, err = m.startGitea(ctx, cfg.DataDir, logger); err != nil {
			return err
		}
		defer g.Stop()
		if cfg.PublicURL == "" {
			cfg.PublicURL = devPublicURL(cfg.Addr)
		}
	}
	app, err := OpenApp(ctx, cfg, Roles{HTTP: true, Workers: true}, logger)
	if err != nil {
		return err
	}
	defer app.Close()
	token, err := app.DB.CreateToken(ctx, *user)
	if err != nil {
		return err
	}
	if g != nil {
		if err := connectGitea(ctx, app.DB, *user, g); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, `
Gitea is running: %s
  sign in as %s with the password %s (kept in %s)
  your git connection "gitea" creates repositories there: onramp project create shop --git gitea --wait
`, g.URL, g.Admin.User, g.Admin.Password, filepath.Join(g.DataDir(), "admin.json"))
	}
	fmt.Fprintf(m.Stdout, `
onramp is running: %s

  export ONRAMP_SERVER=%s
  export ONRAMP_TOKEN=%s
  export KUBECONFIG=%s

Sign in to the web page with the token; try: onramp project create shop --wait
Press Ctrl-C to stop everything; data stays in %s.
`, app.URL, app.URL, token, cluster.KubeconfigPath(), cfg.DataDir)
	m.started <- app
	select {
	case <-ctx.Done():
	case <-cluster.Done():
		return fmt.Errorf("the local control plane stopped: %w; its logs are in %s", cluster.Err(), filepath.Join(cluster.DataDir(), "logs"))
	}
	fmt.Fprintln(m.Stdout, "stopping…")
	return nil
}

// createNamespace creates the namespace unless it exists.
func createNamespace(ctx context.Context, kubeconfig, name string) error {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("cluster client: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create onramp's namespace %s: %w", name, err)
	}
	return nil
}

// clusterBinaries builds the control plane from the pinned tools modules
// when run from an onramp checkout, or finds binaries built before.
func (m *Main) clusterBinaries(ctx context.Context) (string, error) {
	opts := localcluster.BuildOptions{Progress: m.Stdout}
	if _, err := localcluster.FindToolsDir(); err == nil {
		fmt.Fprintln(m.Stdout, "checking the local control plane binaries (the first build takes about 10–20 minutes)…")
		return localcluster.Build(ctx, opts)
	}
	dir, err := localcluster.Lookup(ctx, opts)
	if err != nil {
		return "", fmt.Errorf("the local control plane is not built: run `make localcluster` in an onramp checkout (%w)", err)
	}
	return dir, nil
}
