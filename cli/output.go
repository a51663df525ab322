package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/onramp/onramp"
)

func terminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func (c *command) list(ctx context.Context, _ []string) error {
	if c.output == "json" {
		return c.json(ctx, "/api/v1/projects?limit=100")
	}
	var page struct {
		Projects []onramp.Project `json:"projects"`
	}
	if err := c.client.do(ctx, http.MethodGet, "/api/v1/projects?limit=100", nil, &page); err != nil {
		return err
	}
	if len(page.Projects) == 0 {
		fmt.Fprintln(c.env.Stdout, "no projects yet: onramp project create NAME")
		return nil
	}
	tw := table(c.env.Stdout)
	fmt.Fprintln(tw, "NAME\tPHASE\tPROGRESS\tTEMPLATE\tENVIRONMENTS\tCREATED")
	for _, p := range page.Projects {
		var envs []string
		for _, e := range p.Environments {
			envs = append(envs, e.Name+"="+string(e.Status))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d%%\t%s\t%s\t%s\n", p.Name, p.Phase, p.ShownProgress(), p.Template, strings.Join(envs, " "), p.CreatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func (c *command) get(ctx context.Context, pos []string) error {
	if c.output == "json" {
		return c.json(ctx, projectPath(pos[0]))
	}
	var p onramp.Project
	if err := c.client.do(ctx, http.MethodGet, projectPath(pos[0]), nil, &p); err != nil {
		return err
	}
	printProject(c.env.Stdout, &p)
	return nil
}

// printProject writes a project as people read it: summary, steps,
// environments and resources.
func printProject(w io.Writer, p *onramp.Project) {
	fmt.Fprintf(w, "Project:     %s (%s)\nPhase:       %s  %s\nTemplate:    %s\n", p.Name, p.Owner, p.Phase, bar(p.ShownProgress(), 30), p.Template)
	if p.Repository.URL != "" {
		fmt.Fprintf(w, "Repository:  %s %s\n", p.Repository.URL, p.Repository.Revision)
	}
	fmt.Fprintf(w, "GitOps:      %d namespaces, %d git repositories, %d kustomizations\n\n", p.GitOps.Namespaces, p.GitOps.GitRepositories, p.GitOps.Kustomizations)
	tw := table(w)
	fmt.Fprintln(tw, "STEP\tSTATUS\tDURATION\tERROR")
	for _, s := range p.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Status, duration(s), s.Error)
	}
	tw.Flush()
	for _, s := range p.Steps {
		if s.Hint != "" {
			fmt.Fprintf(w, "hint (%s): %s\n", s.Name, s.Hint)
		}
	}
	fmt.Fprintln(w)
	printEnvironments(w, p)
}

func printEnvironments(w io.Writer, p *onramp.Project) {
	tw := table(w)
	fmt.Fprintln(tw, "ENVIRONMENT\tPOLICY\tSTATUS\tREVISION\tSINCE\tBY\tMESSAGE\tREASON")
	for _, e := range p.Environments {
		k := kustomization(p, e.Name)
		since, by := "", e.DeployedBy
		if e.DeployedAt != nil {
			since = e.DeployedAt.Local().Format(time.DateTime)
		}
		if by == "" && e.Revision != "" {
			by = "push"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, policyText(e.Policy), envStatus(p, e), onramp.ShortRevision(e.Revision),
			since, by, firstLine(e.Message, 40), k.Reason)
	}
	tw.Flush()
	for _, e := range p.Environments {
		if k := kustomization(p, e.Name); k.Hint != "" {
			fmt.Fprintf(w, "hint (%s): %s\n", e.Name, k.Hint)
		}
	}
}

// policyText is a policy as the table shows it: "auto", "promote",
// "promote, 2 approvals".
func policyText(p onramp.Policy) string {
	switch {
	case p.Mode == "":
		return string(onramp.PolicyAuto)
	case p.Approvals == 1:
		return string(p.Mode) + ", 1 approval"
	case p.Approvals > 1:
		return fmt.Sprintf("%s, %d approvals", p.Mode, p.Approvals)
	}
	return string(p.Mode)
}

// firstLine is a commit message's first line, at most n characters.
func firstLine(msg string, n int) string {
	msg, _, _ = strings.Cut(msg, "\n")
	if r := []rune(msg); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return msg
}

// kustomization returns the environment's Kustomization as recorded.
func kustomization(p *onramp.Project, env string) onramp.Resource {
	for _, r := range p.GitOps.Resources {
		if r.Environment == env && r.Kind == onramp.KindKustomization {
			return r
		}
	}
	return onramp.Resource{}
}

// envStatus is the environment's status from its resources as they arrive
// on the stream, or as recorded before any arrived; deleting while the
// project is.
func envStatus(p *onramp.Project, e onramp.Environment) onramp.ResourceStatus {
	if p.Phase == onramp.PhaseDeleting {
		return onramp.StatusDeleting
	}
	for _, r := range p.GitOps.Resources {
		if r.Environment == e.Name {
			return onramp.EnvironmentStatus(e.Name, p.GitOps.Resources)
		}
	}
	return e.Status
}

func duration(s onramp.Step) string {
	switch {
	case s.StartedAt == nil:
		return ""
	case s.FinishedAt == nil:
		return time.Since(*s.StartedAt).Round(time.Millisecond).String() + "…"
	}
	return s.FinishedAt.Sub(*s.StartedAt).Round(time.Millisecond).String()
}

func bar(progress, width int) string {
	n := progress * width / 100
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", n), strings.Repeat(".", width-n), progress)
}

func (c *command) history(ctx context.Context, pos []string) error {
	if c.output == "json" {
		return c.json(ctx, projectPath(pos[0], "/history"))
	}
	var h struct {
		Transitions []onramp.StatusTransition `json:"transitions"`
	}
	if err := c.client.do(ctx, http.MethodGet, projectPath(pos[0], "/history"), nil, &h); err != nil {
		return err
	}
	tw := table(c.env.Stdout)
	fmt.Fprintln(tw, "TIME\tOBJECT\tFROM\tTO\tREASON")
	for _, t := range h.Transitions {
		fmt.Fprintf(tw, "%s\t%s %s/%s\t%s\t%s\t%s\n", t.At.Local().Format(time.TimeOnly), t.Kind, t.Namespace, t.Name, t.From, t.To, t.Reason)
	}
	return tw.Flush()
}

func (c *command) templates(ctx context.Context, _ []string) error {
	if c.output == "json" {
		return c.json(ctx, "/api/v1/templates")
	}
	var l struct {
		Templates []onramp.Template `json:"templates"`
	}
	if err := c.client.do(ctx, http.MethodGet, "/api/v1/templates", nil, &l); err != nil {
		return err
	}
	tw := table(c.env.Stdout)
	fmt.Fprintln(tw, "NAME\tENVIRONMENTS\tDESCRIPTION")
	for _, t := range l.Templates {
		var envs []string
		for _, e := range t.Environments {
			envs = append(envs, string(e.Type))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, strings.Join(envs, ","), t.Description)
	}
	return tw.Flush()
}

func (c *command) template(ctx context.Context, pos []string) error {
	path := "/api/v1/templates/" + pos[0]
	if c.output == "json" {
		return c.json(ctx, path)
	}
	var t onramp.Template
	if err := c.client.do(ctx, http.MethodGet, path, nil, &t); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "%s: %s\n\n", t.Name, t.Description)
	tw := table(c.env.Stdout)
	fmt.Fprintln(tw, "PARAMETER\tTYPE\tDEFAULT\tREQUIRED\tDESCRIPTION")
	for _, p := range t.Parameters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", p.Name, p.Type, p.Default, p.Required, p.Description)
	}
	fmt.Fprintln(tw, "\nENVIRONMENT\tOVERLAY PATH")
	for _, e := range t.Environments {
		fmt.Fprintf(tw, "%s\t%s\n", e.Type, e.Path)
	}
	return tw.Flush()
}
