// Command onramp takes software projects from "create" to "deployed by
// Flux in every environment": the server, the workers, the local
// development cluster and the client commands, in one binary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	// The image is built from scratch, with no CA bundle: these roots are
	// used when the system has none, so HTTPS to Git providers works.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/cli"
)

// version is set at link time with -X main.version=….
var version = "dev"

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(NewMain().Run(ctx, os.Args[1:]))
}

// tuneGC sets the garbage collector's target unless GOGC or GOMEMLIMIT
// says otherwise. A template's preflight (kustomize) allocates ~4.6 MB on
// a live heap of a few tens of MiB, so with Go's default target the
// collector runs through every preflight; during a burst of creates it
// took about a fifth of the CPU the jobs share with the control plane
// (docs/benchmarks.md). A higher target below a soft memory limit keeps
// memory at rest and under load within bounds.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(256 << 20)
}

// Main runs one onramp command. Its fields let tests run it in process.
type Main struct {
	Stdout, Stderr io.Writer
	// Stdin is what `git connect --token-file -` reads the token from.
	Stdin  io.Reader
	Getenv func(string) string
	// started receives the App of serve, worker and dev once it runs.
	started chan *App
}

// NewMain returns a Main wired to the process's streams and environment.
func NewMain() *Main {
	return &Main{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.Getenv, started: make(chan *App, 1)}
}

// Started returns a channel that yields the running App of a server command.
func (m *Main) Started() <-chan *App { return m.started }

const usage = `onramp takes a project from "create" to "deployed by GitOps (Flux) in every environment".

Server commands:
  onramp dev [--gitea] everything on one machine: SQLite, built-in Git, jobs, a local
                      Kubernetes control plane with Flux; prints the URL and a token;
                      --gitea also runs a Gitea and connects the user to it
  onramp serve        API, web UI, workers and status watcher against a real cluster
  onramp worker       workers and status watcher only (scale-out replicas)
  onramp migrate      apply database migrations and exit
  onramp token create --user NAME [--name N] [--expires 720h]
                      print a new API token (shown once)
  onramp version

Client commands (ONRAMP_SERVER, ONRAMP_TOKEN):
` + cli.Usage + `
Run "onramp COMMAND -h" for a command's flags.
`

// Run runs the command in args and returns the process exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = m.serve(ctx, args[1:], Roles{HTTP: true, Workers: true})
	case "worker":
		err = m.serve(ctx, args[1:], Roles{Workers: true})
	case "dev":
		err = m.dev(ctx, args[1:])
	case "migrate":
		err = m.migrate(ctx, args[1:])
	case "token":
		if len(args) > 1 && args[1] != "create" {
			return cli.Run(ctx, args, cli.Env{Stdout: m.Stdout, Stderr: m.Stderr, Getenv: m.Getenv})
		}
		err = m.token(ctx, args[1:])
	case "version":
		fmt.Fprintln(m.Stdout, "onramp", version)
	case "project", "template", "git":
		return cli.Run(ctx, args, cli.Env{Stdout: m.Stdout, Stderr: m.Stderr, Stdin: m.Stdin, Getenv: m.Getenv})
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
	default:
		fmt.Fprintf(m.Stderr, "onramp: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(m.Stderr, "onramp:", err)
		return 1
	}
}

// flags returns a flag set for a server command, bound to cfg.
func (m *Main) flags(name string, cfg *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("onramp "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	cfg.bind(fs, m.Getenv)
	return fs
}

func (m *Main) serve(ctx context.Context, args []string, roles Roles) error {
	var cfg Config
	name := "serve"
	if !roles.HTTP {
		name = "worker"
	}
	if err := m.flags(name, &cfg).Parse(args); err != nil {
		return err
	}
	switch {
	case cfg.Workers < 0:
		return fmt.Errorf("--workers %d: give how many jobs this process runs at once, or 0 to run none (API only)", cfg.Workers)
	case cfg.Workers == 0 && !roles.HTTP:
		return fmt.Errorf("--workers 0 leaves `onramp worker` nothing to do: give 1 or more")
	case cfg.Workers == 0:
		roles.Workers = false // an API-only replica: the queue only inserts
	}
	level, err := cfg.logLevel()
	if err != nil {
		return err
	}
	app, err := OpenApp(ctx, cfg, roles, newLogger(m.Stderr, level))
	if err != nil {
		return err
	}
	defer app.Close()
	if roles.HTTP {
		fmt.Fprintf(m.Stdout, "onramp %s listening on %s\n", version, app.URL)
		if n, err := app.DB.CountUsers(ctx); err == nil && n == 0 {
			fmt.Fprintf(m.Stdout, "no users yet: create an API token with `onramp token create --user NAME --data-dir %s`\n", cfg.DataDir)
		}
	}
	m.started <- app
	<-ctx.Done()
	return nil
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	var cfg Config
	if err := m.flags("migrate", &cfg).Parse(args); err != nil {
		return err
	}
	a := &App{Config: cfg}
	if err := a.openDB(ctx); err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintf(m.Stdout, "database migrated (%s)\n", a.DB.Engine())
	return nil
}

func (m *Main) token(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: onramp token create --user NAME [--name N] [--expires 720h]; onramp token list | revoke ID")
	}
	var cfg Config
	fs := m.flags("token create", &cfg)
	user := fs.String("user", "", "the user the token authenticates (created if new)")
	name := fs.String("name", "", "what the token is for, shown by `onramp token list`")
	expires := fs.Duration("expires", 0, "how long the token is valid, e.g. 720h; 0 for ever")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required: onramp token create --user NAME")
	}
	a := &App{Config: cfg}
	if err := a.openDB(ctx); err != nil {
		return err
	}
	defer a.Close()
	tok, err := a.DB.IssueToken(ctx, *user, onramp.TokenCreate{Name: *name, ExpiresIn: onramp.Duration(*expires)})
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, tok.Secret)
	return nil
}
