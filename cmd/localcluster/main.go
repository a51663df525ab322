// Command localcluster builds and runs the local Kubernetes control plane
// with Flux that `onramp dev` and the tests use.
//
//	go run ./cmd/localcluster build              # build binaries, print the bin dir
//	go run ./cmd/localcluster up --data-dir D    # run a cluster until Ctrl-C
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/onramp/onramp/localcluster"
)

// usage is printed for a missing or unknown subcommand.
const usage = `usage:
  localcluster build [--tools-dir D] [--cache-dir D]
      build the control plane binaries (cached) and print the bin dir
  localcluster up --data-dir D [--bin-dir D] [--tools-dir D] [--cache-dir D]
      run a cluster in the foreground, print its KUBECONFIG path, stop on Ctrl-C
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

// run executes one subcommand.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing subcommand")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var build localcluster.BuildOptions
	fs.StringVar(&build.ToolsDir, "tools-dir", "", "tools/localcluster folder (default: found above the working dir)")
	fs.StringVar(&build.CacheDir, "cache-dir", "", "binary cache root (default: <user cache>/onramp/localcluster)")
	dataDir := fs.String("data-dir", "", "up: folder for the cluster's data; reuse it to keep objects")
	binDir := fs.String("bin-dir", "", "up: use binaries from this folder instead of building")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	build.Progress = stderr
	switch args[0] {
	case "build":
		dir, err := localcluster.Build(ctx, build)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, dir)
		return nil
	case "up":
		return up(ctx, build, *binDir, *dataDir, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
}

// up builds if needed, starts a cluster and runs it until ctx ends or a
// component dies.
func up(ctx context.Context, build localcluster.BuildOptions, binDir, dataDir string, stdout, stderr io.Writer) error {
	if dataDir == "" {
		return errors.New("up: --data-dir is required (a folder to keep the cluster's data in)")
	}
	if binDir == "" {
		var err error
		if binDir, err = localcluster.Build(ctx, build); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: binDir, DataDir: dataDir, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "KUBECONFIG=%s\n", c.KubeconfigPath())
	select {
	case <-ctx.Done():
	case <-c.Done():
	}
	stopErr := c.Stop()
	if err := c.Err(); err != nil {
		return fmt.Errorf("cluster stopped: %w\n%s", err, c.Logs(20))
	}
	return stopErr
}
