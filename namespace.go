package onramp

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultNamespace is onramp's own namespace when it runs outside a cluster
// and none is configured.
const DefaultNamespace = "onramp-system"

// systemNamespaces belong to Kubernetes and Flux: no project may use them,
// whatever the configuration says. A trailing "*" matches a prefix.
var systemNamespaces = []string{"default", "kube-*", "flux-system"}

// NamespacePolicy says which namespaces projects may not use: those of
// Kubernetes and Flux, onramp's own and the ones an operator lists. A
// project's namespaces are "<project>-<environment>", so a name that is
// harmless on its own (project "kube", environment "system") can still make
// one of them.
type NamespacePolicy struct {
	// Own is onramp's own namespace ("" for DefaultNamespace).
	Own string
	// Reserved are more namespaces no project may use; a trailing "*"
	// matches every namespace that starts with what comes before it.
	Reserved []string
}

// ParseReserved splits a comma-separated list of namespaces and patterns,
// checking that each is a namespace name, optionally ending in "*".
func ParseReserved(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name := strings.TrimSuffix(s, "*")
		if name == "" || !dns1123Prefix.MatchString(name) || strings.Contains(name, "*") {
			return nil, fmt.Errorf("reserved namespace %q: give namespace names or prefixes ending in *, separated by commas", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// Check refuses a project one of whose namespaces is reserved, naming the
// environment field that makes it, so that the user knows what to change.
func (np NamespacePolicy) Check(p *Project) error {
	for i, e := range p.Environments {
		ns := Namespace(p.Name, e.Name)
		if who := np.owner(ns); who != "" {
			return FieldErrorf(fmt.Sprintf("environments[%d].name", i),
				"project %q with environment %q would use the namespace %s, which belongs to %s; choose another project or environment name",
				p.Name, e.Name, ns, who)
		}
	}
	return nil
}

// owner says who a reserved namespace belongs to, or "" when it is free.
func (np NamespacePolicy) owner(ns string) string {
	own := np.Own
	if own == "" {
		own = DefaultNamespace
	}
	switch {
	case matchesAny(ns, systemNamespaces):
		return "Kubernetes or Flux"
	case ns == own:
		return "onramp itself"
	case matchesAny(ns, np.Reserved):
		return "the cluster's operators (reserved in onramp's configuration)"
	}
	return ""
}

func matchesAny(ns string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(ns, prefix)
		}
		return ns == p
	})
}
