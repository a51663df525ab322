package onramp

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Phase is where a project is in its life, as the contract names it.
type Phase string

// The phases of a project.
const (
	PhaseInitializing Phase = "initializing"
	PhaseProvisioned  Phase = "provisioned"
	PhaseReady        Phase = "ready"
	PhaseDegraded     Phase = "degraded"
	PhaseFailed       Phase = "failed"
	PhaseDeleting     Phase = "deleting"
)

// Project is a software project that onramp takes to GitOps.
type Project struct {
	ID       int64             `json:"-"`
	Name     string            `json:"name"`
	Owner    string            `json:"owner"`
	Template string            `json:"template"`
	Params   map[string]string `json:"params"`
	// Git is the git connection the repository lives on; "" for the
	// built-in Git server.
	Git          string        `json:"git,omitempty"`
	Phase        Phase         `json:"phase"`
	Progress     int           `json:"progress"`
	Repository   Repository    `json:"repository"`
	Steps        []Step        `json:"steps"`
	Environments []Environment `json:"environments"`
	GitOps       GitOps        `json:"gitops"`
	CreatedAt    time.Time     `json:"created_at"`
	UpdatedAt    time.Time     `json:"updated_at"`
	// Role is the caller's role in the project, when read for a caller.
	Role Role `json:"role,omitempty"`
}

// ShownProgress is the progress a project's bar shows: the
// initialization's, or while the project is being deleted the weight of the
// deletion's finished steps (the initialization's progress never goes
// back, so it cannot count a deletion down).
func (p *Project) ShownProgress() int {
	if p.Phase != PhaseDeleting {
		return p.Progress
	}
	done := 0
	for _, s := range p.Steps {
		if s.Status == StepSucceeded && isDeleteStep(s.Name) {
			done += s.Weight
		}
	}
	return done
}

func isDeleteStep(name string) bool {
	for _, d := range DeleteSteps {
		if d.Name == name {
			return true
		}
	}
	return false
}

// Repository is where a project's rendered template lives.
type Repository struct {
	URL      string `json:"url"`
	Branch   string `json:"branch"`
	Revision string `json:"revision"`
	// Message is the revision's commit message when known; the
	// environments that run the revision keep it.
	Message string `json:"-"`
}

// GitOps summarises the cluster objects onramp created for a project.
type GitOps struct {
	Namespaces      int        `json:"namespaces"`
	GitRepositories int        `json:"gitRepositories"`
	Kustomizations  int        `json:"kustomizations"`
	Resources       []Resource `json:"resources"`
}

// Count fills the per-kind counts from Resources.
func (g *GitOps) Count() {
	g.Namespaces, g.GitRepositories, g.Kustomizations = 0, 0, 0
	for _, r := range g.Resources {
		switch r.Kind {
		case KindNamespace:
			g.Namespaces++
		case KindGitRepository:
			g.GitRepositories++
		case KindKustomization:
			g.Kustomizations++
		}
	}
}

// ProjectCreate is the input of a new project.
type ProjectCreate struct {
	Name         string            `json:"name"`
	Template     string            `json:"template"`
	Environments []EnvironmentSpec `json:"environments"`
	Params       Params            `json:"params"`
	// Git names the caller's git connection to create the repository on;
	// "" uses the built-in Git server.
	Git string `json:"git,omitempty"`
}

// EnvironmentSpec is an environment asked for at creation.
type EnvironmentSpec struct {
	Name string          `json:"name"`
	Type EnvironmentType `json:"type"`
	// Policy overrides the template's policy for the environment's type.
	Policy *PolicySpec `json:"policy,omitempty"`
}

// ProjectFilter selects a page of an owner's projects, newest first.
type ProjectFilter struct {
	Limit  int
	Cursor string
}

const (
	// MaxNameLength keeps "<project>-<environment>" within a 63-character
	// namespace name for the longest environment name.
	MaxNameLength = 63 - 1 - MaxEnvironmentNameLength
	// MaxEnvironmentNameLength bounds environment names.
	MaxEnvironmentNameLength = 20
	// MaxEnvironments bounds a project's environments: each costs a
	// namespace and five objects in the cluster, and a create writes them
	// all in one transaction.
	MaxEnvironments = 50
)

var (
	dns1123Label  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Prefix = regexp.MustCompile(`^[a-z0-9][-a-z0-9]*$`)
)

var reservedNames = map[string]bool{
	"default": true, "kube-system": true, "kube-public": true,
	"kube-node-lease": true, "flux-system": true,
}

// ValidateName checks that name can be a project name.
func ValidateName(name string) error {
	switch {
	case name == "":
		return FieldErrorf("name", "name is required")
	case len(name) > MaxNameLength:
		return FieldErrorf("name", "name %q is %d characters long; use at most %d so that <name>-<environment> fits in 63", name, len(name), MaxNameLength)
	case !dns1123Label.MatchString(name):
		return FieldErrorf("name", "name %q must be lowercase letters, digits and '-', starting and ending with a letter or digit", name)
	case reservedNames[name] || strings.HasPrefix(name, "kube-"):
		return FieldErrorf("name", "name %q is reserved by Kubernetes or Flux; choose another", name)
	}
	return nil
}

// Validate checks the input's shape; parameters are checked against the
// template by Template.ResolveParams.
func (c *ProjectCreate) Validate() error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if c.Template == "" {
		return FieldErrorf("template", "template is required; GET /api/v1/templates lists them")
	}
	if len(c.Environments) == 0 {
		return FieldErrorf("environments", "at least one environment is required (development, staging or production)")
	}
	if len(c.Environments) > MaxEnvironments {
		return FieldErrorf("environments", "%d environments are more than a project may have; give at most %d", len(c.Environments), MaxEnvironments)
	}
	seen := map[string]bool{}
	for i, e := range c.Environments {
		field := fmt.Sprintf("environments[%d].name", i)
		switch {
		case e.Name == "":
			return FieldErrorf(field, "environment name is required")
		case len(e.Name) > MaxEnvironmentNameLength:
			return FieldErrorf(field, "environment name %q is longer than %d characters", e.Name, MaxEnvironmentNameLength)
		case !dns1123Label.MatchString(e.Name):
			return FieldErrorf(field, "environment name %q must be lowercase letters, digits and '-', starting and ending with a letter or digit", e.Name)
		case seen[e.Name]:
			return FieldErrorf(field, "environment %q is listed twice", e.Name)
		}
		seen[e.Name] = true
		if !e.Type.Valid() {
			return FieldErrorf(fmt.Sprintf("environments[%d].type", i), "environment type %q is not one of development, staging, production", e.Type)
		}
	}
	return nil
}

// NewProject checks c against its template and returns the project to
// create: parameters resolved with defaults, and each environment's
// namespace, overlay path and reconcile interval.
func NewProject(c ProjectCreate, t *Template) (*Project, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	params, err := t.ResolveParams(c.Params)
	if err != nil {
		return nil, err
	}
	p := &Project{Name: c.Name, Template: t.Name, Params: params, Git: c.Git, Phase: PhaseInitializing}
	for i, e := range c.Environments {
		te, ok := t.Environment(e.Type)
		if !ok {
			return nil, FieldErrorf(fmt.Sprintf("environments[%d].type", i), "template %q has no overlay for %s environments", t.Name, e.Type)
		}
		policy := e.Policy.Apply(te.Policy.Apply(DefaultPolicy(e.Type)))
		if err := policy.Validate(fmt.Sprintf("environments[%d].policy", i)); err != nil {
			return nil, err
		}
		p.Environments = append(p.Environments, Environment{
			Name: e.Name, Type: e.Type, Namespace: Namespace(c.Name, e.Name),
			Path: te.Path, Interval: Duration(e.Type.Interval()), Status: StatusPending, Policy: policy,
		})
	}
	return p, nil
}

// JudgePhase is a set-up project's phase judged from its resources:
// degraded when one is failed, stalled or missing; ready when every
// environment's Kustomization is ready at the pushed revision; provisioned
// otherwise. Projects that are initializing, failed or deleting keep their
// phase.
func JudgePhase(p *Project, resources []Resource) Phase {
	switch p.Phase {
	case PhaseProvisioned, PhaseReady, PhaseDegraded:
	default:
		return p.Phase
	}
	ready := len(p.Environments) > 0
	for _, e := range p.Environments {
		switch s := EnvironmentStatus(e.Name, resources); {
		case s.Broken():
			return PhaseDegraded
		case s != StatusReady:
			ready = false
		}
	}
	if ready {
		return PhaseReady
	}
	return PhaseProvisioned
}
