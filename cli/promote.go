package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// promote requests a promotion (--to) or a rollback (--env) and, with
// --wait, follows it until it ends.
func (c *command) promote(ctx context.Context, args []string, rollback bool) (int, error) {
	name := "project promote"
	if rollback {
		name = "project rollback"
	}
	fs := flag.NewFlagSet("onramp "+name, flag.ContinueOnError)
	var req onramp.PromotionRequest
	if rollback {
		fs.StringVar(&req.Environment, "env", "", "the environment to roll back")
		fs.StringVar(&req.Revision, "to", "", "the revision to go back to (default: the last one it was Ready at before)")
	} else {
		fs.StringVar(&req.Environment, "to", "", "the environment to promote to")
		fs.StringVar(&req.Revision, "revision", "", "the revision to promote (default: what the environment before runs and is Ready at)")
		fs.BoolVar(&req.Force, "force", false, "promote even when the environment before is not Ready at the revision (admins)")
	}
	wait := fs.Bool("wait", false, "wait until the environment is Ready at the revision, or the promotion fails")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long --wait waits")
	pos, err := c.flags(name, fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if req.Environment == "" {
		flagName := "--to"
		if rollback {
			flagName = "--env"
		}
		return ExitUsage, fmt.Errorf("onramp %s needs %s ENV: the environment to move", name, flagName)
	}
	path := "/promotions"
	if rollback {
		path = "/rollbacks"
	}
	var p onramp.Promotion
	if err := c.client.do(ctx, http.MethodPost, projectPath(pos[0], path), req, &p); err != nil {
		return ExitFailed, err
	}
	return c.afterPromotion(ctx, &p, *wait, *timeout)
}

func (c *command) approve(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp project approve", flag.ContinueOnError)
	id := fs.Int64("promotion", 0, "the promotion to approve (onramp project history NAME --env ENV)")
	wait := fs.Bool("wait", false, "wait until the promotion ends")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long --wait waits")
	pos, err := c.flags("project approve", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if *id <= 0 {
		return ExitUsage, fmt.Errorf("onramp project approve needs --promotion ID (onramp project history %s --env ENV lists them)", pos[0])
	}
	var p onramp.Promotion
	if err := c.client.do(ctx, http.MethodPost, projectPath(pos[0], "/promotions/"+strconv.FormatInt(*id, 10)+"/approve"), nil, &p); err != nil {
		return ExitFailed, err
	}
	return c.afterPromotion(ctx, &p, *wait, *timeout)
}

// afterPromotion says where a promotion stands and, with wait, polls it
// until it ends: exit 0 when done, 1 when failed or superseded.
func (c *command) afterPromotion(ctx context.Context, p *onramp.Promotion, wait bool, timeout time.Duration) (int, error) {
	if c.output == "json" && !wait {
		return ExitOK, writeJSON(c.env.Stdout, p)
	}
	fmt.Fprintf(c.env.Stdout, "%s %d of %s to %s: %s%s\n", p.Kind, p.ID, p.Environment, onramp.ShortRevision(p.Revision), p.Status, waitingFor(p))
	if !wait {
		return ExitOK, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := p.Status
	for !p.Status.Final() {
		select {
		case <-ctx.Done():
			return ExitTimeout, fmt.Errorf("%s %d is still %s after %s", p.Kind, p.ID, p.Status, timeout)
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.client.do(ctx, http.MethodGet, projectPath(p.Project, "/promotions/"+strconv.FormatInt(p.ID, 10)), nil, p); err != nil {
			return ExitFailed, err
		}
		if p.Status != last {
			fmt.Fprintf(c.env.Stdout, "%s %d: %s%s\n", p.Kind, p.ID, p.Status, waitingFor(p))
			last = p.Status
		}
	}
	if c.output == "json" {
		return ExitOK, writeJSON(c.env.Stdout, p)
	}
	switch p.Status {
	case onramp.PromotionDone:
		fmt.Fprintf(c.env.Stdout, "%s is Ready at %s\n", p.Environment, onramp.ShortRevision(p.Revision))
		return ExitOK, nil
	case onramp.PromotionSuperseded:
		return ExitFailed, fmt.Errorf("%s %d was superseded by %d", p.Kind, p.ID, p.SupersededBy)
	}
	if p.Hint != "" {
		return ExitFailed, fmt.Errorf("%s %d failed: %s\nhint: %s", p.Kind, p.ID, p.Error, p.Hint)
	}
	return ExitFailed, fmt.Errorf("%s %d failed: %s", p.Kind, p.ID, p.Error)
}

func waitingFor(p *onramp.Promotion) string {
	if p.Status != onramp.PromotionWaiting {
		return ""
	}
	n := p.Needed - len(p.Approvals)
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf(" (%d approval%s to go; a deployer or admin other than %s runs `onramp project approve %s --promotion %d`)", n, s, p.RequestedBy, p.Project, p.ID)
}

// historyCmd prints the status transitions, or with --env an environment's
// promotions and rollbacks.
func (c *command) historyCmd(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp project history", flag.ContinueOnError)
	env := fs.String("env", "", "show this environment's promotions and rollbacks instead of status transitions")
	pos, err := c.flags("project history", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if *env == "" {
		err = c.history(ctx, pos)
	} else {
		err = c.trail(ctx, pos[0], *env)
	}
	if err != nil {
		return ExitFailed, err
	}
	return ExitOK, nil
}

func (c *command) trail(ctx context.Context, project, env string) error {
	path := projectPath(project, "/promotions") + "?environment=" + url.QueryEscape(env)
	if c.output == "json" {
		return c.json(ctx, path)
	}
	var list struct {
		Promotions []onramp.Promotion `json:"promotions"`
	}
	if err := c.client.do(ctx, http.MethodGet, path, nil, &list); err != nil {
		return err
	}
	printTrail(c.env.Stdout, list.Promotions)
	return nil
}

func printTrail(w io.Writer, ps []onramp.Promotion) {
	tw := table(w)
	fmt.Fprintln(tw, "ID\tKIND\tREVISION\tFROM\tSTATUS\tASKED BY\tAPPROVED BY\tASKED\tREADY\tERROR")
	for _, p := range ps {
		var by []string
		for _, a := range p.Approvals {
			by = append(by, a.User)
		}
		ready := ""
		if p.ReadyAt != nil {
			ready = p.ReadyAt.Local().Format(time.DateTime)
		}
		kind := p.Kind
		if p.Forced {
			kind += " (forced)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, kind, onramp.ShortRevision(p.Revision), onramp.ShortRevision(p.From), p.Status,
			p.RequestedBy, strings.Join(by, ","), p.CreatedAt.Local().Format(time.DateTime), ready, p.Error)
	}
	tw.Flush()
}

// member runs `project member add | list | remove`.
func (c *command) member(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return ExitUsage, fmt.Errorf("usage: onramp project member add NAME --user U --role viewer|deployer|admin | list NAME | remove NAME --user U")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("onramp project member "+sub, flag.ContinueOnError)
	var user, role *string
	switch sub {
	case "add":
		user = fs.String("user", "", "the user to add, or whose role to change")
		role = fs.String("role", "", "viewer (sees), deployer (promotes, approves, retries) or admin (members, delete)")
	case "remove":
		user = fs.String("user", "", "the member to remove")
	case "list":
	default:
		return ExitUsage, fmt.Errorf("unknown command \"project member %s\"; use add, list or remove", sub)
	}
	pos, err := c.flags("project member "+sub, fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if user != nil && *user == "" {
		return ExitUsage, fmt.Errorf("onramp project member %s needs --user NAME", sub)
	}
	switch sub {
	case "add":
		var m onramp.Member
		if err := c.client.do(ctx, http.MethodPost, projectPath(pos[0], "/members"), onramp.MemberChange{User: *user, Role: onramp.Role(*role)}, &m); err != nil {
			return ExitFailed, err
		}
		fmt.Fprintf(c.env.Stdout, "%s is a %s of %s\n", m.User, m.Role, pos[0])
	case "remove":
		if err := c.client.do(ctx, http.MethodDelete, projectPath(pos[0], "/members/"+url.PathEscape(*user)), nil, nil); err != nil {
			return ExitFailed, err
		}
		fmt.Fprintf(c.env.Stdout, "%s is no longer a member of %s\n", *user, pos[0])
	case "list":
		if c.output == "json" {
			return ExitOK, c.json(ctx, projectPath(pos[0], "/members"))
		}
		var list struct {
			Members []onramp.Member `json:"members"`
		}
		if err := c.client.do(ctx, http.MethodGet, projectPath(pos[0], "/members"), nil, &list); err != nil {
			return ExitFailed, err
		}
		tw := table(c.env.Stdout)
		fmt.Fprintln(tw, "USER\tROLE\tADDED BY\tADDED")
		for _, m := range list.Members {
			role, by := string(m.Role), m.AddedBy
			if m.Owner {
				role, by = role+" (owner)", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.User, role, by, m.AddedAt.Local().Format(time.DateTime))
		}
		tw.Flush()
	}
	return ExitOK, nil
}
