package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/onramp/onramp"
)

// goal is when following a project ends.
type goal int

const (
	untilProvisioned goal = iota // 100%
	untilReady                   // every Kustomization Ready at the pushed revision
	untilGone                    // deleted
	forever                      // until interrupted or deleted
)

func (c *command) watchCmd(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp project watch", flag.ContinueOnError)
	pos, err := c.flags("project watch", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	return c.follow(ctx, pos[0], 0, forever)
}

// follow shows a project live from its event stream until goal is met
// (exit 0), it fails or degrades (1), or timeout passes (2).
func (c *command) follow(ctx context.Context, name string, timeout time.Duration, g goal) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	v := &view{w: c.env.Stdout, tty: c.tty}
	code, gone := -1, false
	err := c.client.Stream(ctx, name, func(e Event) (bool, error) {
		var err error
		gone, err = v.apply(e)
		if err != nil {
			return true, err
		}
		code = outcome(v.p, gone, g)
		if !e.More || code >= 0 {
			v.render(code >= 0)
		}
		return code >= 0, nil
	})
	switch {
	case code == ExitFailed:
		return code, failure(v.p)
	case code >= 0:
		if gone {
			fmt.Fprintf(c.env.Stdout, "project %s is gone\n", name)
		}
		return code, nil
	case g == untilGone && onramp.ErrorCode(err) == onramp.ENOTFOUND:
		fmt.Fprintf(c.env.Stdout, "project %s is gone\n", name)
		return ExitOK, nil
	case errors.Is(err, context.DeadlineExceeded) && v.p != nil && v.p.Phase == onramp.PhaseDegraded:
		return ExitFailed, fmt.Errorf("still degraded after %s: %w", timeout, failure(v.p))
	case errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout, fmt.Errorf("timed out after %s: %s", timeout, summary(v.p))
	case err == nil || errors.Is(err, context.Canceled):
		return ExitOK, nil
	}
	return ExitFailed, err
}

// outcome decides whether following is over, and with which exit code.
func outcome(p *onramp.Project, gone bool, g goal) int {
	switch {
	case gone:
		if g == untilGone || g == forever {
			return ExitOK
		}
		return ExitFailed
	case p == nil:
		return -1
	case p.Phase == onramp.PhaseFailed && g != untilGone:
		return ExitFailed
	case g == untilProvisioned && p.Progress == 100 && p.Phase != onramp.PhaseInitializing:
		return ExitOK
	case g == untilReady && p.Phase == onramp.PhaseReady:
		return ExitOK
	case g == untilReady && p.Phase == onramp.PhaseDegraded && needsSomeone(p):
		return ExitFailed
	}
	return -1
}

// needsSomeone reports whether a degraded project waits for a person: an
// object is missing or Flux stopped retrying. A failed reconcile alone is
// retried by Flux, so --wait-ready keeps waiting for it.
func needsSomeone(p *onramp.Project) bool {
	for _, r := range p.GitOps.Resources {
		if r.Status == onramp.StatusMissing || r.Status == onramp.StatusStalled {
			return true
		}
	}
	return false
}

// failure explains a failed or degraded project: the step, the reason and
// the hint.
func failure(p *onramp.Project) error {
	if p == nil {
		return errors.New("the project is gone")
	}
	var b strings.Builder
	for _, s := range p.Steps {
		if s.Status == onramp.StepFailed {
			fmt.Fprintf(&b, "step %s failed: %s", s.Name, s.Error)
			if s.Hint != "" {
				fmt.Fprintf(&b, "\nhint: %s", s.Hint)
			}
			return errors.New(b.String())
		}
	}
	for _, r := range p.GitOps.Resources {
		if r.Status.Broken() {
			fmt.Fprintf(&b, "%s %s/%s is %s: %s %s\n", r.Kind, r.Namespace, r.Name, r.Status, r.Reason, r.Message)
			if r.Hint != "" {
				fmt.Fprintf(&b, "hint: %s\n", r.Hint)
			}
		}
	}
	return fmt.Errorf("project %s is %s\n%s", p.Name, p.Phase, strings.TrimSpace(b.String()))
}

func summary(p *onramp.Project) string {
	if p == nil {
		return "no answer from the project's event stream"
	}
	return fmt.Sprintf("project %s is %s at %d%% (%s)", p.Name, p.Phase, p.ShownProgress(), currentStep(p))
}

// currentStep is the step running or failed, else the next one to run.
func currentStep(p *onramp.Project) string {
	next := ""
	for _, s := range p.Steps {
		switch {
		case s.Status == onramp.StepRunning || s.Status == onramp.StepFailed:
			return s.Name
		case s.Status == onramp.StepPending && next == "":
			next = s.Name
		}
	}
	if next == "" {
		return "all steps done"
	}
	return next
}

// view is a project kept current from its events, drawn in place on a
// terminal and as plain lines otherwise.
type view struct {
	w     io.Writer
	tty   bool
	p     *onramp.Project
	drawn int    // lines of the last in-place drawing
	last  string // last plain status line
	logs  []string
}

// apply updates the project from one event; it reports whether the
// project is gone.
func (v *view) apply(e Event) (bool, error) {
	if e.Type == onramp.EventSnapshot {
		v.p = &onramp.Project{}
		return false, json.Unmarshal(e.Data, v.p)
	}
	if v.p == nil {
		v.p = &onramp.Project{}
	}
	p := v.p
	var err error
	switch e.Type {
	case onramp.EventProgress:
		var d struct{ Progress int }
		err = json.Unmarshal(e.Data, &d)
		p.Progress = max(p.Progress, d.Progress)
	case onramp.EventPhase:
		var d struct{ Phase onramp.Phase }
		if err = json.Unmarshal(e.Data, &d); err == nil && d.Phase == "deleted" {
			return true, nil
		}
		p.Phase = d.Phase
	case onramp.EventStep:
		var s onramp.Step
		err = json.Unmarshal(e.Data, &s)
		replaceStep(p, s)
	case onramp.EventResource:
		var r onramp.Resource
		err = json.Unmarshal(e.Data, &r)
		if r.Status == onramp.StatusDeleted {
			removeResource(p, r)
		} else {
			upsertResource(p, r)
		}
	case onramp.EventLog:
		var l onramp.LogLine
		err = json.Unmarshal(e.Data, &l)
		v.logs = append(v.logs, fmt.Sprintf("%s %-5s %s", l.Time.Local().Format("15:04:05.000"), l.Level, l.Message))
	}
	if err != nil {
		return false, fmt.Errorf("read the server's %s event %d: %w", e.Type, e.ID, err)
	}
	return false, nil
}

func replaceStep(p *onramp.Project, s onramp.Step) {
	for i := range p.Steps {
		if p.Steps[i].Name == s.Name {
			p.Steps[i] = s
			return
		}
	}
	p.Steps = append(p.Steps, s)
}

func upsertResource(p *onramp.Project, r onramp.Resource) {
	defer p.GitOps.Count()
	for i, old := range p.GitOps.Resources {
		if old.Kind == r.Kind && old.Namespace == r.Namespace && old.Name == r.Name {
			p.GitOps.Resources[i] = r
			return
		}
	}
	p.GitOps.Resources = append(p.GitOps.Resources, r)
}

func removeResource(p *onramp.Project, r onramp.Resource) {
	defer p.GitOps.Count()
	p.GitOps.Resources = slices.DeleteFunc(p.GitOps.Resources, func(old onramp.Resource) bool {
		return old.Kind == r.Kind && old.Namespace == r.Namespace && old.Name == r.Name
	})
}

// render draws the current state; final leaves the drawing in place.
func (v *view) render(final bool) {
	if v.p == nil {
		return
	}
	if !v.tty {
		v.plain()
		return
	}
	var b bytes.Buffer
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.drawn)
	}
	for _, l := range v.logs {
		fmt.Fprintln(&b, l)
	}
	v.logs = nil
	var block bytes.Buffer
	fmt.Fprintf(&block, "%s  %s  %s\n", bar(v.p.ShownProgress(), 40), v.p.Phase, currentStep(v.p))
	fmt.Fprintf(&block, "%d namespaces, %d git repositories, %d kustomizations\n", v.p.GitOps.Namespaces, v.p.GitOps.GitRepositories, v.p.GitOps.Kustomizations)
	printEnvironments(&block, v.p)
	v.drawn = bytes.Count(block.Bytes(), []byte("\n"))
	b.Write(block.Bytes())
	_, _ = v.w.Write(b.Bytes()) // a terminal that went away has nothing to show
}

// plain prints log lines and a status line whenever the status changes.
func (v *view) plain() {
	for _, l := range v.logs {
		fmt.Fprintln(v.w, l)
	}
	v.logs = nil
	var envs []string
	for _, e := range v.p.Environments {
		envs = append(envs, e.Name+"="+string(envStatus(v.p, e)))
	}
	line := fmt.Sprintf("%3d%% %s %s [%s]", v.p.ShownProgress(), v.p.Phase, currentStep(v.p), strings.Join(envs, " "))
	if line != v.last {
		fmt.Fprintln(v.w, line)
		v.last = line
	}
}

func (c *command) logs(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("onramp project logs", flag.ContinueOnError)
	follow := fs.Bool("follow", false, "keep printing new lines")
	pos, err := c.flags("project logs", fs, args, 1)
	if err != nil {
		return ExitUsage, err
	}
	if c.output == "json" && !*follow {
		return ExitOK, c.json(ctx, projectPath(pos[0], "/logs"))
	}
	var l struct {
		Lines []onramp.LogLine `json:"lines"`
	}
	if err := c.client.do(ctx, http.MethodGet, projectPath(pos[0], "/logs"), nil, &l); err != nil {
		return ExitFailed, err
	}
	var last int64
	for _, line := range l.Lines {
		printLog(c.env.Stdout, line)
		last = line.ID
	}
	if !*follow {
		return ExitOK, nil
	}
	err = c.client.Stream(ctx, pos[0], func(e Event) (bool, error) {
		if e.Type == onramp.EventPhase && strings.Contains(string(e.Data), `"deleted"`) {
			return true, nil
		}
		if e.Type != onramp.EventLog {
			return false, nil
		}
		var line onramp.LogLine
		if err := json.Unmarshal(e.Data, &line); err != nil {
			return false, fmt.Errorf("read the server's log event %d: %w", e.ID, err)
		}
		if line.ID > last {
			printLog(c.env.Stdout, line)
			last = line.ID
		}
		return false, nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return ExitFailed, err
	}
	return ExitOK, nil
}

func printLog(w io.Writer, l onramp.LogLine) {
	fmt.Fprintf(w, "%s %-5s %-17s %s\n", l.Time.Local().Format(time.DateTime+".000"), l.Level, l.Step, l.Message)
}
