package onramp

import "time"

// The kinds of cluster objects onramp creates for an environment, in the
// order they are applied. Deletion goes in the reverse order.
const (
	KindNamespace      = "Namespace"
	KindServiceAccount = "ServiceAccount"
	KindRoleBinding    = "RoleBinding"
	KindSecret         = "Secret"
	KindGitRepository  = "GitRepository"
	KindKustomization  = "Kustomization"
)

// ResourceStatus is the live state of a cluster object or environment.
type ResourceStatus string

// The statuses of a resource.
const (
	StatusPending     ResourceStatus = "pending"
	StatusReconciling ResourceStatus = "reconciling"
	StatusReady       ResourceStatus = "ready"
	StatusFailed      ResourceStatus = "failed"
	StatusStalled     ResourceStatus = "stalled"
	StatusMissing     ResourceStatus = "missing"
	// StatusDeleting is every environment's status while its project is
	// being deleted.
	StatusDeleting ResourceStatus = "deleting"
	// StatusDeleted is said only by a resource event: the deletion saw the
	// object gone from the cluster and removed its record.
	StatusDeleted ResourceStatus = "deleted"
)

// Resource is one cluster object onramp created for a project, with its
// live status as Flux reports it.
type Resource struct {
	Kind               string         `json:"kind"`
	Name               string         `json:"name"`
	Namespace          string         `json:"namespace,omitempty"`
	Environment        string         `json:"environment"`
	Status             ResourceStatus `json:"status"`
	Reason             string         `json:"reason,omitempty"`
	Message            string         `json:"message,omitempty"`
	Hint               string         `json:"hint,omitempty"`
	Revision           string         `json:"revision,omitempty"`
	ObservedGeneration int64          `json:"observed_generation,omitempty"`
	ObservedAt         time.Time      `json:"observed_at"`
	// ResourceVersion is the apiserver's version of the object when it was
	// observed; it is neither stored nor shown.
	ResourceVersion string `json:"-"`
	// Wanted is the revision onramp expects Flux to reach, if any; it is
	// neither stored nor shown.
	Wanted string `json:"-"`
}

// StatusTransition is one change of a resource's status, kept for good
// (Kubernetes events expire after an hour).
type StatusTransition struct {
	ID        int64          `json:"id"`
	Kind      string         `json:"kind"`
	Name      string         `json:"name"`
	Namespace string         `json:"namespace,omitempty"`
	From      ResourceStatus `json:"from"`
	To        ResourceStatus `json:"to"`
	Reason    string         `json:"reason,omitempty"`
	Message   string         `json:"message,omitempty"`
	Revision  string         `json:"revision,omitempty"`
	At        time.Time      `json:"at"`
}

// severity orders statuses from good to bad.
func severity(s ResourceStatus) int {
	switch s {
	case StatusReady:
		return 0
	case StatusPending:
		return 1
	case StatusReconciling, StatusDeleting, StatusDeleted:
		return 2
	case StatusFailed:
		return 3
	case StatusStalled:
		return 4
	default: // missing
		return 5
	}
}

// Broken reports whether a status needs someone to act: failed, stalled
// or missing.
func (s ResourceStatus) Broken() bool { return severity(s) >= severity(StatusFailed) }

// EnvironmentStatus is the worst status among an environment's resources,
// or pending when it has none; it is ready only when its Kustomization is.
func EnvironmentStatus(env string, resources []Resource) ResourceStatus {
	status, found, kustomization := StatusPending, false, false
	for _, r := range resources {
		if r.Environment != env {
			continue
		}
		kustomization = kustomization || r.Kind == KindKustomization
		if !found || severity(r.Status) > severity(status) {
			status, found = r.Status, true
		}
	}
	if status == StatusReady && !kustomization {
		return StatusReconciling
	}
	return status
}

// ReasonProgressing is Flux's reason while it reconciles (meta.ProgressingReason).
const ReasonProgressing = "Progressing"

// Recheck reports whether r, an observation of an object whose last
// recorded state is old, is only Flux reconciling again what it already
// judged: at every interval Flux says Ready=Unknown ("reconciliation in
// progress") for a moment, for the same generation and revision, and then
// what it said before. That is no change of state: the recorded status
// stands until Flux says something else (a failure, a stall, a deletion, a
// new generation or revision).
func Recheck(old, r Resource) bool {
	return r.Status == StatusReconciling && r.Reason == ReasonProgressing &&
		r.Kind == old.Kind && r.ObservedGeneration == old.ObservedGeneration && r.Revision == old.Revision &&
		(r.Wanted == "" || r.Wanted == r.Revision) &&
		(old.Status == StatusReady || old.Status == StatusFailed || old.Status == StatusStalled)
}
