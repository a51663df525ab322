package deploy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// onrampRules is every permission onramp holds across the cluster, one line
// per (group, resource, name) and why. A new permission is a change to this
// list, to deploy/rbac.yaml, to the chart's clusterrole.yaml and to the
// table in docs/install.md: TestClusterRole fails until all four agree.
var onrampRules = []struct {
	rule string // GROUP/RESOURCE[/NAME]: VERBS
	why  string
}{
	{"/namespaces: create delete get list patch watch", "one namespace per project environment, created on demand, watched and deleted with the project"},
	{"/secrets: create delete get list patch watch", "the Git credentials Flux reads, in each project namespace"},
	{"/serviceaccounts: create delete get list patch watch", "the account Flux applies a project as, in each project namespace"},
	{"rbac.authorization.k8s.io/rolebindings: create delete get list patch watch", "binds that account to admin inside its namespace only"},
	{"rbac.authorization.k8s.io/clusterroles/admin: bind", "lets onramp bind admin without holding admin's permissions (no escalate)"},
	{"source.toolkit.fluxcd.io/gitrepositories: create delete get list patch watch", "where Flux fetches each environment from"},
	{"kustomize.toolkit.fluxcd.io/kustomizations: create delete get list patch watch", "what Flux applies in each environment"},
}

// leaderElectionRules is what onramp holds in its own namespace.
var leaderElectionRules = []string{
	"coordination.k8s.io/leases: create get update", // leader election among replicas (client-go's Lease lock)
}

// TestClusterRole: the chart's ClusterRole grants exactly onrampRules, the
// same as deploy/rbac.yaml, and nothing with a wildcard, escalate or
// impersonate; its namespaced Role, like deploy/rbac.yaml's, grants only
// the leader election Lease.
func TestClusterRole(t *testing.T) {
	var want []string
	for _, r := range onrampRules {
		want = append(want, r.rule)
	}
	sort.Strings(want)
	objs := render(t, "rel", "ns", nil)

	chart := ruleLines(t, objs.get(t, "ClusterRole", ""))
	if !slices.Equal(chart, want) {
		t.Errorf("the chart's ClusterRole grants\n  %s\nwant (onrampRules in deploy/rbac_test.go)\n  %s\nupdate the chart, deploy/rbac.yaml, onrampRules and docs/install.md together",
			strings.Join(chart, "\n  "), strings.Join(want, "\n  "))
	}
	plain, err := Decode(RBACManifest())
	if err != nil {
		t.Fatal(err)
	}
	roles := 0
	for _, obj := range plain {
		switch obj.GetKind() {
		case "ClusterRole":
			if file := ruleLines(t, obj); !slices.Equal(file, chart) {
				t.Errorf("deploy/rbac.yaml's ClusterRole grants\n  %s\nthe chart's\n  %s\nwant the same", strings.Join(file, "\n  "), strings.Join(chart, "\n  "))
			}
		case "Role":
			roles++
			if file := ruleLines(t, obj); !slices.Equal(file, leaderElectionRules) || obj.GetNamespace() != "onramp-system" {
				t.Errorf("deploy/rbac.yaml's Role %s/%s grants %v; want %v in onramp-system", obj.GetNamespace(), obj.GetName(), file, leaderElectionRules)
			}
		}
	}
	if roles != 1 {
		t.Errorf("deploy/rbac.yaml holds %d Roles; want 1, the leader election Lease's", roles)
	}
	if role := ruleLines(t, objs.get(t, "Role", objs.name+"-leader-election")); !slices.Equal(role, leaderElectionRules) {
		t.Errorf("the chart's leader election Role grants %v; want %v", role, leaderElectionRules)
	}
	for _, line := range append(chart, leaderElectionRules...) {
		for _, bad := range []string{"*", "escalate", "impersonate"} {
			if strings.Contains(line, bad) {
				t.Errorf("rule %q grants %s; onramp needs none", line, bad)
			}
		}
	}
}

// ruleLines flattens a Role's or ClusterRole's rules into sorted lines of
// GROUP/RESOURCE[/NAME]: VERBS, so that two ways of writing the same
// permissions compare equal.
func ruleLines(t testing.TB, obj *unstructured.Unstructured) []string {
	t.Helper()
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	verbs := map[string][]string{}
	for _, r := range role.Rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					key := g + "/" + res
					if n != "" {
						key += "/" + n
					}
					verbs[key] = append(verbs[key], r.Verbs...)
				}
			}
		}
	}
	var lines []string
	for key, v := range verbs {
		sort.Strings(v)
		lines = append(lines, fmt.Sprintf("%s: %s", key, strings.Join(slices.Compact(v), " ")))
	}
	sort.Strings(lines)
	return lines
}
