// Command onramp-bench measures onramp as a platform team runs it: a real
// `onramp serve` process against a local control plane with Flux.
//
// -mode burst (the default) submits -n projects at once, spread over
// -replicas processes (on PostgreSQL). It reports when every project
// reached 100% and, with -ready, when every one was Ready; the peak memory
// of each onramp process and the CPU of each process (onramp, the control
// plane, PostgreSQL); and the p99 of GET /api/v1/projects/{name} during the
// burst. Then, in the same run, the floor: a bare client applying the same
// objects for every project (10 at a time, as onramp's 10 workers do) and,
// with -ready, Flux alone making them Ready; onramp's own objects are
// suspended first so that the floor runs on a quiet cluster.
//
// -mode create creates -n projects one at a time on an idle cluster and
// reports each one's create → 100% (with -ready, create → Ready) against
// the floor: the same objects applied directly, without onramp.
//
// -mode gitea starts a Gitea of its own (`make gitea` builds it), creates
// -n projects on it one at a time and reports each one's create → 100%
// against its floor: the same provider calls (create the repository, push
// the rendered tree, install the deploy key) and the same applies, without
// onramp.
//
// -mode freshness makes a one-environment project Ready and changes its
// Kustomization -n times, failed and back, reporting how long after Flux's
// condition changed the project's event stream and its GET showed it.
//
// -mode watcher stores -n/3 provisioned projects and creates -n
// Kustomizations that Flux leaves alone, then reports the initial sync and
// 100 status updates of informers alone in this program (the floor), of
// `onramp serve` seeing them first, and of it after a restart.
//
// -mode idle reads the resident memory of an idle `onramp serve`, without a
// cluster and then with one.
//
//	make build && go run ./cmd/onramp-bench -n 200
//	go run ./cmd/onramp-bench -n 1000 -template worker
//	go run ./cmd/onramp-bench -n 1000 -template worker -replicas 3 -database-url 'postgres://…&search_path=bench1'
//	go run ./cmd/onramp-bench -mode create -n 20
//	go run ./cmd/onramp-bench -mode create -n 6 -ready
//	go run ./cmd/onramp-bench -mode gitea -n 8
//	go run ./cmd/onramp-bench -mode freshness -n 200
//	go run ./cmd/onramp-bench -mode watcher -n 3000
//	go run ./cmd/onramp-bench -mode idle
//
// It is a measurement program, not a test: it asserts nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/onramp/onramp/localcluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "onramp-bench:", err)
		os.Exit(1)
	}
}

// options are the measurement's flags.
type options struct {
	mode        string
	n           int
	template    string
	onramp      string
	databaseURL string
	ready       bool
	replicas    int
	floor       bool
	timeout     time.Duration
}

func run(ctx context.Context, args []string) error {
	var o options
	fs := flag.NewFlagSet("onramp-bench", flag.ContinueOnError)
	fs.StringVar(&o.mode, "mode", "burst", "burst: -n projects at once; create: -n projects one at a time, each against the floor; "+
		"gitea: the same on a Gitea connection; freshness: -n status changes, each until visible; "+
		"watcher: the status watcher following -n Kustomizations; idle: the memory of an idle server")
	fs.IntVar(&o.n, "n", 200, "projects, 3 environments each (freshness: status changes; watcher: Kustomizations, 3 a project)")
	fs.StringVar(&o.template, "template", "web-service", "their template (worker has no Service: the local cluster's Service range holds ~250)")
	fs.StringVar(&o.onramp, "onramp", "bin/onramp", "the onramp binary to run (make build)")
	fs.StringVar(&o.databaseURL, "database-url", "", "postgres://… to measure on PostgreSQL (default SQLite in a temporary data dir)")
	fs.BoolVar(&o.ready, "ready", false, "burst: wait, after 100%, until every project is Ready (real Flux); create: measure create → Ready")
	fs.IntVar(&o.replicas, "replicas", 1, "burst: onramp serve processes sharing the database and the data dir (more than 1 needs -database-url postgres://…)")
	fs.BoolVar(&o.floor, "floor", true, "burst: measure the floor after onramp, in the same run")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !slices.Contains([]string{"burst", "create", "gitea", "freshness", "watcher", "idle"}, o.mode) {
		return fmt.Errorf("-mode %q: want burst, create, gitea, freshness, watcher or idle", o.mode)
	}
	if o.replicas < 1 || (o.replicas > 1 && o.mode != "burst") {
		return fmt.Errorf("-replicas %d: want 1, or more with -mode burst", o.replicas)
	}
	if o.replicas > 1 && !strings.HasPrefix(o.databaseURL, "postgres") {
		return errors.New("-replicas: several onramp processes share a PostgreSQL database: give -database-url postgres://… (a fresh schema: &search_path=…)")
	}
	if o.mode == "watcher" && o.databaseURL != "" {
		return errors.New("-mode watcher fills a SQLite database of its own: leave -database-url out")
	}
	bin, err := filepath.Abs(o.onramp)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: build onramp first with `make build`, or point -onramp at it", o.onramp)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "onramp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.mode == "idle" {
		// On SQLite: a second server on one PostgreSQL database would need
		// the first one's secret key.
		fmt.Println("starting onramp serve without a cluster…")
		alone, err := idleAlone(ctx, bin, dir, "")
		if err != nil {
			return err
		}
		fmt.Printf("idle onramp serve without a cluster: %s\n", alone)
	}

	fmt.Println("starting the local control plane…")
	binDir, err := localcluster.Lookup(ctx, localcluster.BuildOptions{})
	if err != nil {
		return fmt.Errorf("the local control plane is not built: run `make localcluster` (%w)", err)
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir, DataDir: filepath.Join(dir, "cluster")})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	m := &measurement{options: o, bin: bin, dir: dir, cluster: cluster}
	switch {
	case o.replicas > 1:
		srvs, stop, err := startReplicas(ctx, bin, dir, o.databaseURL, cluster.KubeconfigPath(), o.replicas)
		if err != nil {
			return err
		}
		defer stop()
		m.srvs, m.srv = srvs, srvs[0]
	case o.mode != "watcher": // which starts its servers itself, on a database it fills first
		m.srv, err = startServer(ctx, bin, dir, o.databaseURL, cluster.KubeconfigPath(), "warn")
		if err != nil {
			return err
		}
		defer m.srv.stop()
		m.srvs = []*server{m.srv}
	}
	measure := m.run
	switch o.mode {
	case "create":
		measure = m.createTo100
	case "gitea":
		measure = m.giteaTo100
	case "freshness":
		measure = m.freshness
	case "watcher":
		measure = m.watcher
	case "idle":
		measure = func(ctx context.Context) (string, error) {
			withCluster, err := idleMemory(ctx, m.srv)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("idle onramp serve with the cluster: %s\n", withCluster), nil
		}
	}
	report, err := measure(ctx)
	if report != "" {
		fmt.Print(report)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("not done within -timeout %s: %w", o.timeout, err)
	}
	return err
}
