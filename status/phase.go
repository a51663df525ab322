package status

import "github.com/onramp/onramp"

// Phase is a set-up project's phase judged from its resources: degraded
// when one is failed, stalled or missing; ready when every environment's
// Kustomization is ready at the pushed revision; provisioned otherwise.
// Projects that are initializing, failed or deleting keep their phase.
func Phase(p *onramp.Project, resources []onramp.Resource) onramp.Phase {
	switch p.Phase {
	case onramp.PhaseProvisioned, onramp.PhaseReady, onramp.PhaseDegraded:
	default:
		return p.Phase
	}
	ready := len(p.Environments) > 0
	for _, e := range p.Environments {
		switch s := onramp.EnvironmentStatus(e.Name, resources); {
		case s.Broken():
			return onramp.PhaseDegraded
		case s != onramp.StatusReady:
			ready = false
		}
	}
	if ready {
		return onramp.PhaseReady
	}
	return onramp.PhaseProvisioned
}
