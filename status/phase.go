package status

import "github.com/onramp/onramp"

// severity orders statuses from good to bad, for an environment's summary.
func severity(s onramp.ResourceStatus) int {
	switch s {
	case onramp.StatusReady:
		return 0
	case onramp.StatusPending:
		return 1
	case onramp.StatusReconciling:
		return 2
	case onramp.StatusFailed:
		return 3
	case onramp.StatusStalled:
		return 4
	default: // missing
		return 5
	}
}

// EnvironmentStatus is the worst status among an environment's resources;
// it is ready only when its Kustomization is.
func EnvironmentStatus(env string, resources []onramp.Resource) onramp.ResourceStatus {
	status, kustomization := onramp.StatusPending, false
	first := true
	for _, r := range resources {
		if r.Environment != env {
			continue
		}
		if r.Kind == onramp.KindKustomization {
			kustomization = true
		}
		if first || severity(r.Status) > severity(status) {
			status, first = r.Status, false
		}
	}
	if status == onramp.StatusReady && !kustomization {
		return onramp.StatusReconciling
	}
	return status
}

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
		switch s := EnvironmentStatus(e.Name, resources); {
		case severity(s) >= severity(onramp.StatusFailed):
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
