package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// Usage lists the client commands.
const Usage = `  onramp project create NAME [--template T] [--env development,staging,production]
                        [--param key=value ...] [--policy ENV=auto|promote[:N] ...] [--git CONNECTION]
                        [--wait] [--wait-ready] [--timeout 5m]
  onramp project list | get NAME | logs NAME [--follow] | history NAME | watch NAME
  onramp project retry NAME | delete NAME [--keep-repository] [--wait]
  onramp project promote NAME --to ENV [--revision REV] [--force] [--wait]
  onramp project approve NAME --promotion ID [--wait]
  onramp project rollback NAME --env ENV [--to REV] [--wait]
  onramp project history NAME --env ENV      the environment's promotions and rollbacks
  onramp project member add NAME --user U --role viewer|deployer|admin | list NAME | remove NAME --user U
  onramp template list | show NAME
  onramp token list | revoke ID      your API tokens (the ID, not the secret)
  onramp git connect NAME --kind gitea|github|gitlab --url URL --owner OWNER --token-file FILE|-
  onramp git list | show NAME | disconnect NAME    your connections to Git providers
  Read commands take --output json (the API's JSON).
`

// Exit codes scripts can rely on.
const (
	ExitOK      = 0
	ExitFailed  = 1 // failed, degraded, or any error
	ExitTimeout = 2
	ExitUsage   = 2
)

// Env is the client's outside world.
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin is read by `git connect --token-file -`; nil reads nothing.
	Stdin  io.Reader
	Getenv func(string) string
}

// Run runs a client command ("project …", "template …", "token list" or
// "token revoke") and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	c := &Client{Server: env.Getenv("ONRAMP_SERVER"), Token: env.Getenv("ONRAMP_TOKEN"), HTTP: &http.Client{}}
	if c.Server == "" {
		c.Server = "http://127.0.0.1:8080"
	}
	cmd := &command{client: c, env: env, tty: isTerminal(env.Stdout)}
	if len(args) < 2 {
		fmt.Fprint(env.Stderr, "usage:\n"+Usage)
		return ExitUsage
	}
	code, err := cmd.run(ctx, args[0]+" "+args[1], args[2:])
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(env.Stderr, "onramp:", errorText(err))
	}
	return code
}

func errorText(err error) string {
	var e *onramp.Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return fmt.Sprintf("%s (%s)", e.Message, e.Field)
		}
		return e.Message
	}
	return err.Error()
}

type command struct {
	client *Client
	env    Env
	tty    bool
	output string
}

func (c *command) run(ctx context.Context, name string, args []string) (int, error) {
	switch name {
	case "project create":
		return c.create(ctx, args)
	case "project list":
		return c.read(ctx, "project list", args, 0, c.list)
	case "project get":
		return c.read(ctx, "project get", args, 1, c.get)
	case "project history":
		return c.historyCmd(ctx, args)
	case "project promote":
		return c.promote(ctx, args, false)
	case "project rollback":
		return c.promote(ctx, args, true)
	case "project approve":
		return c.approve(ctx, args)
	case "project member":
		return c.member(ctx, args)
	case "project logs":
		return c.logs(ctx, args)
	case "project watch":
		return c.watchCmd(ctx, args)
	case "project retry":
		return c.act(ctx, args, http.MethodPost, "/retry", "retry")
	case "project delete":
		return c.deleteCmd(ctx, args)
	case "template list":
		return c.read(ctx, "template list", args, 0, c.templates)
	case "template show":
		return c.read(ctx, "template show", args, 1, c.template)
	case "token list":
		return c.read(ctx, "token list", args, 0, c.tokens)
	case "token revoke":
		return c.revoke(ctx, args)
	case "git connect":
		return c.gitConnect(ctx, args)
	case "git list":
		return c.read(ctx, "git list", args, 0, c.gitList)
	case "git show":
		return c.read(ctx, "git show", args, 1, c.gitShow)
	case "git disconnect":
		return c.gitDisconnect(ctx, args)
	}
	return ExitUsage, fmt.Errorf("unknown command %q; the client commands are:\n%s", name, Usage)
}

// flags parses args (flags may follow the positional arguments) and
// checks the number of positional arguments.
func (c *command) flags(name string, fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	fs.SetOutput(c.env.Stderr)
	fs.StringVar(&c.output, "output", "", "json prints the API's JSON")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != positional {
		want := "no arguments"
		if positional == 1 {
			want = "one NAME"
			if name == "token revoke" {
				want = "one token ID (onramp token list)"
			}
		}
		return nil, fmt.Errorf("onramp %s takes %s, got %d: %q", name, want, len(pos), pos)
	}
	if c.output != "" && c.output != "json" {
		return nil, fmt.Errorf("--output %q: the only output format is json", c.output)
	}
	return pos, nil
}

// read runs a read command: JSON straight from the API with --output
// json, a table otherwise.
func (c *command) read(ctx context.Context, name string, args []string, positional int, table func(context.Context, []string) error) (int, error) {
	fs := flag.NewFlagSet("onramp "+name, flag.ContinueOnError)
	pos, err := c.flags(name, fs, args, positional)
	if err != nil {
		return ExitUsage, err
	}
	if err := table(ctx, pos); err != nil {
		return ExitFailed, err
	}
	return ExitOK, nil
}

// json prints the API's answer unchanged.
func (c *command) json(ctx context.Context, path string) error {
	body, err := c.client.raw(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	_, err = c.env.Stdout.Write(body)
	return err
}

func (c *command) act(ctx context.Context, args []string, method, suffix, verb string) (int, error) {
	fs := flag.NewFlagSet("onramp project "+verb, flag.ContinueOnError)
	pos, err := c.flags("project "+verb, fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	var p onramp.Project
	if err := c.client.do(ctx, method, projectPath(pos[0], suffix), nil, &p); err != nil {
		return ExitFailed, err
	}
	fmt.Fprintf(c.env.Stdout, "project %s: %s requested (phase %s)\n", p.Name, verb, p.Phase)
	return ExitOK, nil
}

func (c *command) deleteCmd(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp project delete", flag.ContinueOnError)
	wait := fs.Bool("wait", false, "wait until everything is gone")
	keep := fs.Bool("keep-repository", false, "keep the repository on its Git provider (only Flux's deploy key or token is removed)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long --wait waits")
	pos, err := c.flags("project delete", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	path := projectPath(pos[0])
	if *keep {
		path += "?keep_repository=true"
	}
	var p onramp.Project
	if err := c.client.do(ctx, http.MethodDelete, path, nil, &p); err != nil {
		return ExitFailed, err
	}
	fmt.Fprintf(c.env.Stdout, "project %s: deleting\n", p.Name)
	if !*wait {
		return ExitOK, nil
	}
	return c.follow(ctx, pos[0], *timeout, untilGone)
}

func (c *command) create(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp project create", flag.ContinueOnError)
	tmpl := fs.String("template", "web-service", "template to render (onramp template list)")
	envs := fs.String("env", "development,staging,production", "environments: NAME or NAME:TYPE, comma-separated")
	var params paramFlag
	fs.Var(&params, "param", "template parameter key=value (repeatable)")
	wait := fs.Bool("wait", false, "wait until the project reaches 100%")
	waitReady := fs.Bool("wait-ready", false, "wait until every Kustomization is Ready at the pushed revision")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long --wait and --wait-ready wait")
	git := fs.String("git", "", "the git connection to create the repository on (onramp git list); none uses the built-in Git server")
	var policies policyFlag
	fs.Var(&policies, "policy", "an environment's policy: NAME=auto, NAME=promote or NAME=promote:APPROVALS (repeatable; default by type)")
	pos, err := c.flags("project create", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	req := onramp.ProjectCreate{Name: pos[0], Template: *tmpl, Params: params.m, Git: *git}
	for _, e := range strings.Split(*envs, ",") {
		name, typ, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok {
			typ = name
			if !onramp.EnvironmentType(typ).Valid() {
				return ExitUsage, fmt.Errorf("--env %s: %q is not an environment type; give its type after a colon, e.g. %s:development (types: development, staging, production)", name, name, name)
			}
		}
		req.Environments = append(req.Environments, onramp.EnvironmentSpec{Name: name, Type: onramp.EnvironmentType(typ), Policy: policies.m[name]})
		delete(policies.m, name)
	}
	for name := range policies.m {
		return ExitUsage, fmt.Errorf("--policy %s: there is no environment %s in --env %s", name, name, *envs)
	}
	var p onramp.Project
	if err := c.client.do(ctx, http.MethodPost, "/api/v1/projects", req, &p); err != nil {
		return ExitFailed, err
	}
	switch {
	case *waitReady:
		return c.follow(ctx, p.Name, *timeout, untilReady)
	case *wait:
		return c.follow(ctx, p.Name, *timeout, untilProvisioned)
	}
	if c.output == "json" {
		return ExitOK, writeJSON(c.env.Stdout, p)
	}
	fmt.Fprintf(c.env.Stdout, "project %s created; follow it with `onramp project watch %s`\n", p.Name, p.Name)
	return ExitOK, nil
}

// paramFlag collects repeated --param key=value flags.
type paramFlag struct{ m map[string]string }

func (p *paramFlag) String() string { return "" }

func (p *paramFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[k] = val
	return nil
}

// policyFlag collects repeated --policy NAME=MODE[:APPROVALS] flags.
type policyFlag struct{ m map[string]*onramp.PolicySpec }

func (p *policyFlag) String() string { return "" }

func (p *policyFlag) Set(v string) error {
	name, rule, ok := strings.Cut(v, "=")
	mode, approvals, counted := strings.Cut(rule, ":")
	if !ok || name == "" || (mode != string(onramp.PolicyAuto) && mode != string(onramp.PolicyPromote)) {
		return fmt.Errorf("%q is not NAME=auto, NAME=promote or NAME=promote:APPROVALS", v)
	}
	spec := &onramp.PolicySpec{Mode: onramp.PolicyMode(mode)}
	if counted {
		n, err := strconv.Atoi(approvals)
		if err != nil {
			return fmt.Errorf("%q: approvals %q is not a whole number", v, approvals)
		}
		spec.Approvals = &n
	}
	if p.m == nil {
		p.m = map[string]*onramp.PolicySpec{}
	}
	p.m[name] = spec
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && terminal(f)
}
