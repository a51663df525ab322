package onramp_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		want string // "" for valid, else the code
	}{
		{"shop", ""}, {"a", ""}, {"web-1", ""}, {"1web", ""}, {strings.Repeat("a", onramp.MaxNameLength), ""},
		{"", onramp.EINVALID}, {"Shop", onramp.EINVALID}, {"-a", onramp.EINVALID}, {"a-", onramp.EINVALID},
		{"a_b", onramp.EINVALID}, {strings.Repeat("a", onramp.MaxNameLength+1), onramp.EINVALID},
		{"default", onramp.EINVALID}, {"flux-system", onramp.EINVALID}, {"kube-anything", onramp.EINVALID},
	}
	for _, tt := range tests {
		if got := onramp.ErrorCode(onramp.ValidateName(tt.name)); got != tt.want {
			t.Errorf("ValidateName(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
	// The longest project and environment names still fit a namespace.
	ns := onramp.Namespace(strings.Repeat("a", onramp.MaxNameLength), strings.Repeat("e", onramp.MaxEnvironmentNameLength))
	if len(ns) > 63 {
		t.Errorf("longest namespace is %d characters; want ≤ 63", len(ns))
	}
}

func TestParamsJSON(t *testing.T) {
	tests := []struct {
		in    string
		want  map[string]string
		field string
	}{
		{`{"port":"8080"}`, map[string]string{"port": "8080"}, ""},
		{`{"port":8080,"debug":true,"ratio":-1.5}`, map[string]string{"port": "8080", "debug": "true", "ratio": "-1.5"}, ""},
		{`{"port":{"x":1}}`, nil, "params.port"},
		{`{"port":null}`, nil, "params.port"},
		{`[]`, nil, "params"},
	}
	for _, tt := range tests {
		var p onramp.Params
		err := json.Unmarshal([]byte(tt.in), &p)
		if got := onramp.ErrorField(err); got != tt.field {
			t.Errorf("unmarshal(%s) field = %q (%v); want %q", tt.in, got, err, tt.field)
		}
		for k, v := range tt.want {
			if p[k] != v {
				t.Errorf("unmarshal(%s)[%s] = %q; want %q", tt.in, k, p[k], v)
			}
		}
	}
}

func TestNewProject(t *testing.T) {
	tmpl := &onramp.Template{
		Name:         "web",
		Parameters:   []onramp.Parameter{{Name: "port", Type: "int", Default: "8080"}, {Name: "image", Required: true}},
		Environments: []onramp.TemplateEnvironment{{Type: onramp.Development, Path: "./overlays/development"}},
	}
	c := onramp.ProjectCreate{Name: "shop", Template: "web", Params: onramp.Params{"image": "nginx"},
		Environments: []onramp.EnvironmentSpec{{Name: "dev", Type: onramp.Development}}}
	p, err := onramp.NewProject(c, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Environments[0]; e.Namespace != "shop-dev" || e.Path != "./overlays/development" || p.Params["port"] != "8080" {
		t.Errorf("NewProject = %+v %+v", p, e)
	}
	c.Environments[0].Type = onramp.Production
	if _, err := onramp.NewProject(c, tmpl); onramp.ErrorField(err) != "environments[0].type" {
		t.Errorf("environment the template lacks: %v; want field environments[0].type", err)
	}
	c.Environments[0].Type, c.Params = onramp.Development, nil
	if _, err := onramp.NewProject(c, tmpl); onramp.ErrorField(err) != "params.image" {
		t.Errorf("missing required parameter: %v; want field params.image", err)
	}
}

func TestShownProgress(t *testing.T) {
	steps := func(doneDeleteSteps int) []onramp.Step {
		var out []onramp.Step
		for _, s := range onramp.InitSteps {
			out = append(out, onramp.Step{Name: s.Name, Weight: s.Weight, Status: onramp.StepSucceeded})
		}
		for i, s := range onramp.DeleteSteps {
			st := onramp.StepPending
			if i < doneDeleteSteps {
				st = onramp.StepSucceeded
			}
			out = append(out, onramp.Step{Name: s.Name, Weight: s.Weight, Status: st})
		}
		return out
	}
	tests := []struct {
		name  string
		phase onramp.Phase
		done  int // delete steps succeeded
		want  int
	}{
		{"ready shows the initialization's", onramp.PhaseReady, 0, 100},
		{"deleting starts at 0", onramp.PhaseDeleting, 0, 0},
		{"deleting counts finished delete steps", onramp.PhaseDeleting, 2, onramp.DeleteSteps[0].Weight + onramp.DeleteSteps[1].Weight},
		{"deleting, all steps done", onramp.PhaseDeleting, len(onramp.DeleteSteps), 100},
	}
	for _, tt := range tests {
		p := onramp.Project{Phase: tt.phase, Progress: 100, Steps: steps(tt.done)}
		if got := p.ShownProgress(); got != tt.want {
			t.Errorf("%s: ShownProgress() = %d; want %d", tt.name, got, tt.want)
		}
	}
}

func TestNamespacePolicy(t *testing.T) {
	policy := onramp.NamespacePolicy{Own: "platform-onramp", Reserved: []string{"apps-prod", "team-*"}}
	tests := []struct {
		project, env string
		field        string // "" when allowed
	}{
		{"shop", "production", ""},
		{"kube", "system", "environments[0].name"},
		{"kube", "public", "environments[0].name"},
		{"kube", "node-lease", "environments[0].name"},
		{"flux", "system", "environments[0].name"},
		{"platform", "onramp", "environments[0].name"},
		{"onramp", "system", ""}, // not onramp's namespace in this configuration
		{"team", "a", "environments[0].name"},
		{"apps", "prod", "environments[0].name"},
		{"apps", "production", ""},
		{"teams", "a", ""},
	}
	for _, tt := range tests {
		p := &onramp.Project{Name: tt.project, Environments: []onramp.Environment{{Name: tt.env}}}
		err := policy.Check(p)
		if got := onramp.ErrorField(err); got != tt.field {
			t.Errorf("Check(%s-%s) field = %q (%v); want %q", tt.project, tt.env, got, err, tt.field)
		}
		if err != nil && onramp.ErrorCode(err) != onramp.EINVALID {
			t.Errorf("Check(%s-%s) code = %q; want %q", tt.project, tt.env, onramp.ErrorCode(err), onramp.EINVALID)
		}
	}
	// The field names the environment that makes the reserved namespace.
	p := &onramp.Project{Name: "flux", Environments: []onramp.Environment{{Name: "dev"}, {Name: "system"}}}
	if got := onramp.ErrorField(policy.Check(p)); got != "environments[1].name" {
		t.Errorf("Check(flux: dev, system) field = %q; want environments[1].name", got)
	}
	// Without configuration, onramp's own namespace is the default one.
	p = &onramp.Project{Name: "onramp", Environments: []onramp.Environment{{Name: "system"}}}
	if err := (onramp.NamespacePolicy{}).Check(p); onramp.ErrorField(err) != "environments[0].name" {
		t.Errorf("Check(onramp-system) with no configuration = %v; want refused", err)
	}
}

func TestParseReserved(t *testing.T) {
	got, err := onramp.ParseReserved(" monitoring, team-*,,")
	if err != nil || strings.Join(got, "|") != "monitoring|team-*" {
		t.Errorf("ParseReserved = %q, %v; want [monitoring team-*]", got, err)
	}
	for _, bad := range []string{"*", "Team", "a*b*", "a b"} {
		if _, err := onramp.ParseReserved(bad); err == nil {
			t.Errorf("ParseReserved(%q) = nil error; want refused", bad)
		}
	}
}

func TestJudgePhase(t *testing.T) {
	envs := []onramp.Environment{{Name: "dev"}, {Name: "prod"}}
	res := func(statuses ...onramp.ResourceStatus) []onramp.Resource {
		var out []onramp.Resource
		for i, s := range statuses {
			env := envs[i/2].Name
			kind := onramp.KindGitRepository
			if i%2 == 1 {
				kind = onramp.KindKustomization
			}
			out = append(out, onramp.Resource{Kind: kind, Environment: env, Status: s})
		}
		return out
	}
	R, C, F, M := onramp.StatusReady, onramp.StatusReconciling, onramp.StatusFailed, onramp.StatusMissing
	tests := []struct {
		name      string
		phase     onramp.Phase
		resources []onramp.Resource
		want      onramp.Phase
	}{
		{"all ready", onramp.PhaseProvisioned, res(R, R, R, R), onramp.PhaseReady},
		{"one reconciling", onramp.PhaseProvisioned, res(R, R, R, C), onramp.PhaseProvisioned},
		{"one failed", onramp.PhaseReady, res(R, R, F, R), onramp.PhaseDegraded},
		{"one missing", onramp.PhaseReady, res(R, M, R, R), onramp.PhaseDegraded},
		{"recovered", onramp.PhaseDegraded, res(R, R, R, R), onramp.PhaseReady},
		{"no kustomization yet", onramp.PhaseProvisioned, res(R, R, R), onramp.PhaseProvisioned},
		{"initializing keeps its phase", onramp.PhaseInitializing, res(F, F, F, F), onramp.PhaseInitializing},
		{"deleting keeps its phase", onramp.PhaseDeleting, res(R, R, R, R), onramp.PhaseDeleting},
		{"failed keeps its phase", onramp.PhaseFailed, res(R, R, R, R), onramp.PhaseFailed},
	}
	for _, tt := range tests {
		p := &onramp.Project{Phase: tt.phase, Environments: envs}
		if got := onramp.JudgePhase(p, tt.resources); got != tt.want {
			t.Errorf("%s: JudgePhase(%s) = %s; want %s", tt.name, tt.phase, got, tt.want)
		}
	}
}

func TestRecheck(t *testing.T) {
	ready := onramp.Resource{Kind: onramp.KindKustomization, Status: onramp.StatusReady, Reason: "ReconciliationSucceeded", Revision: "main@sha1:a", ObservedGeneration: 2}
	again := onramp.Resource{Kind: onramp.KindKustomization, Status: onramp.StatusReconciling, Reason: onramp.ReasonProgressing, Revision: "main@sha1:a", ObservedGeneration: 2, Wanted: "main@sha1:a"}
	failed := ready
	failed.Status, failed.Reason = onramp.StatusFailed, "BuildFailed"
	tests := []struct {
		name     string
		old, obs onramp.Resource
		want     bool
	}{
		{"periodic reconcile of what is ready", ready, again, true},
		{"periodic retry of what failed", failed, again, true},
		{"a new revision is wanted", ready, with(again, func(r *onramp.Resource) { r.Wanted = "main@sha1:b" }), false},
		{"a new revision arrived", ready, with(again, func(r *onramp.Resource) { r.Revision = "main@sha1:b" }), false},
		{"a new generation", ready, with(again, func(r *onramp.Resource) { r.ObservedGeneration = 3 }), false},
		{"not Flux's reconcile", ready, with(again, func(r *onramp.Resource) { r.Reason = "DependencyNotReady" }), false},
		{"a failure", ready, failed, false},
		{"first reconcile", with(ready, func(r *onramp.Resource) { r.Status = onramp.StatusReconciling }), again, false},
	}
	for _, tt := range tests {
		if got := onramp.Recheck(tt.old, tt.obs); got != tt.want {
			t.Errorf("%s: Recheck = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func with(r onramp.Resource, change func(*onramp.Resource)) onramp.Resource {
	change(&r)
	return r
}

// An environment's policy is its type's default, then the template's, then
// the project's.
func TestEnvironmentPolicy(t *testing.T) {
	two, no := 2, false
	tmpl := &onramp.Template{Name: "web", Environments: []onramp.TemplateEnvironment{
		{Type: onramp.Development, Path: "./d"},
		{Type: onramp.Staging, Path: "./s", Policy: &onramp.PolicySpec{Approvals: &two}},
		{Type: onramp.Production, Path: "./p", Policy: &onramp.PolicySpec{Approvals: &two, RollbackSkipsApprovals: ptr(true)}},
	}}
	c := onramp.ProjectCreate{Name: "shop", Template: "web", Environments: []onramp.EnvironmentSpec{
		{Name: "development", Type: onramp.Development},
		{Name: "staging", Type: onramp.Staging},
		{Name: "production", Type: onramp.Production, Policy: &onramp.PolicySpec{RollbackSkipsApprovals: &no}},
		{Name: "preview", Type: onramp.Development, Policy: &onramp.PolicySpec{Mode: onramp.PolicyPromote}},
	}}
	p, err := onramp.NewProject(c, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	want := []onramp.Policy{
		{Mode: onramp.PolicyAuto},
		{Mode: onramp.PolicyPromote, Approvals: 2},
		{Mode: onramp.PolicyPromote, Approvals: 2},
		{Mode: onramp.PolicyPromote},
	}
	for i, e := range p.Environments {
		if e.Policy != want[i] {
			t.Errorf("%s's policy = %+v; want %+v", e.Name, e.Policy, want[i])
		}
	}
	eleven := onramp.MaxApprovals + 1
	c.Environments[1].Policy = &onramp.PolicySpec{Approvals: &eleven}
	if _, err := onramp.NewProject(c, tmpl); onramp.ErrorField(err) != "environments[1].policy.approvals" {
		t.Errorf("too many approvals: %v; want field environments[1].policy.approvals", err)
	}
}

func ptr[T any](v T) *T { return &v }
