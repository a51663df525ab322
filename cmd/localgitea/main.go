// Command localgitea builds and runs the real Gitea that the tests of
// onramp's external Git providers use.
//
//	go run ./cmd/localgitea build              # build Gitea (cached), print the bin dir
//	go run ./cmd/localgitea up --data-dir D    # run Gitea until Ctrl-C
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

	"github.com/onramp/onramp/localgitea"
)

// usage is printed for a missing or unknown subcommand.
const usage = `usage:
  localgitea build [--tools-dir D] [--cache-dir D]
      build Gitea (cached) and print the bin dir
  localgitea up --data-dir D [--tools-dir D] [--cache-dir D]
      build Gitea if needed, run it on 127.0.0.1 until Ctrl-C, print how to use it
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "localgitea:", err)
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
	var build localgitea.BuildOptions
	fs.StringVar(&build.ToolsDir, "tools-dir", "", "tools/gitea folder (default: found above the working dir)")
	fs.StringVar(&build.CacheDir, "cache-dir", "", "binary cache root (default: <user cache>/onramp/gitea)")
	dataDir := fs.String("data-dir", "", "up: folder for Gitea's data; reuse it to keep repositories and the admin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	build.Progress = stderr
	switch args[0] {
	case "build":
		dir, err := localgitea.Build(ctx, build)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, dir)
		return nil
	case "up":
		return up(ctx, build, *dataDir, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
}

// up builds Gitea if needed and runs it until ctx ends or Gitea exits.
func up(ctx context.Context, build localgitea.BuildOptions, dataDir string, stdout, stderr io.Writer) error {
	if dataDir == "" {
		return errors.New("up: --data-dir is required (a folder to keep Gitea's data in)")
	}
	binDir, err := localgitea.Build(ctx, build)
	if err != nil {
		return err
	}
	g, err := localgitea.Start(ctx, localgitea.Options{BinDir: binDir, DataDir: dataDir, Log: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	defer g.Stop()
	fmt.Fprintf(stdout, "gitea is running: %s\n  sign in as %s; the password and token are in %s/admin.json\n  ssh: %s (user git)\n  known_hosts: %s\n",
		g.URL, g.Admin.User, g.DataDir(), g.SSHAddr, g.KnownHosts)
	select {
	case <-ctx.Done():
		return nil
	case <-g.Done():
		return fmt.Errorf("gitea exited; its log is %s", g.LogPath())
	}
}
