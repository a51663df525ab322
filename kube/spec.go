package kube

import (
	"time"

	"github.com/onramp/onramp"
)

// Labels and annotations onramp puts on every object it creates. The label
// selector managed-by=onramp is what Watch, DeleteProject and Remaining use to
// find them again.
const (
	// FieldManager is the one server-side apply field manager onramp uses.
	FieldManager = "onramp"
	// LabelManagedBy marks an object as created by onramp.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "onramp"
	// LabelProject names the project an object belongs to.
	LabelProject = "onramp.dev/project"
	// LabelEnvironment names the environment an object belongs to.
	LabelEnvironment = "onramp.dev/environment"
	// AnnotationRevision records, on the GitRepository and the Kustomization,
	// the revision onramp pushed and expects Flux to reach. Watch reads it so
	// that "ready" keeps meaning "ready at our revision" after a restart.
	AnnotationRevision = "onramp.dev/revision"
	// AnnotationReconcileRequest asks Flux to reconcile at once rather than
	// at the next interval (meta.ReconcileRequestAnnotation).
	AnnotationReconcileRequest = "reconcile.fluxcd.io/requestedAt"
	// AdminClusterRole is the ClusterRole the Flux service account is bound
	// to inside its own namespace only.
	AdminClusterRole = "admin"
)

// EnvironmentSpec is everything needed to create one environment of a
// project in the cluster. The credential (Password, GitSecret) is only
// ever written into the Secret; no error or log line carries it.
type EnvironmentSpec struct {
	Project     string
	Environment string
	Type        onramp.EnvironmentType
	// Namespace defaults to onramp.Namespace(Project, Environment).
	Namespace string
	// Path is the overlay directory in the repository, e.g.
	// "./deploy/overlays/development".
	Path string
	// Interval defaults to Type.Interval().
	Interval time.Duration
	GitURL   string
	// Branch defaults to "main".
	Branch string
	// Username and Password are the basic-auth credential Flux clones
	// with, unless GitSecret is set.
	Username string
	Password string
	// GitSecret, when set, is the whole of the Secret's data, as the
	// provider's credential needs it: identity, identity.pub and
	// known_hosts for SSH, username and password for HTTPS.
	GitSecret map[string][]byte
	// Revision is the revision onramp pushed ("main@sha1:<sha>"); empty
	// means any revision Flux reports is accepted.
	Revision string
	// Pin makes the GitRepository check out Revision's commit instead of
	// the branch head: the environment moves only when onramp moves it.
	Pin bool
}

// withDefaults fills the optional fields.
func (s EnvironmentSpec) withDefaults() EnvironmentSpec {
	if s.Namespace == "" {
		s.Namespace = onramp.Namespace(s.Project, s.Environment)
	}
	if s.Interval == 0 {
		s.Interval = s.Type.Interval()
	}
	if s.Branch == "" {
		s.Branch = "main"
	}
	return s
}

// Validate reports the first missing or invalid field, as an EINVALID error.
func (s EnvironmentSpec) Validate() error {
	if err := onramp.ValidateName(s.Project); err != nil {
		return err
	}
	required := []struct{ field, value string }{
		{"environment", s.Environment},
		{"path", s.Path},
		{"git_url", s.GitURL},
	}
	if len(s.GitSecret) == 0 {
		required = append(required, []struct{ field, value string }{{"username", s.Username}, {"password", s.Password}}...)
	}
	for _, r := range required {
		if r.value == "" {
			return onramp.FieldErrorf(r.field, "%s is required for environment %q of project %q", r.field, s.Environment, s.Project)
		}
	}
	if s.Type != "" && !s.Type.Valid() {
		return onramp.FieldErrorf("type", "environment type %q is not one of development, staging, production", s.Type)
	}
	if s.Interval < 0 {
		return onramp.FieldErrorf("interval", "interval %s is negative", s.Interval)
	}
	return nil
}

// FluxName is the name of the ServiceAccount and RoleBinding Flux applies as.
func FluxName(project string) string { return project + "-flux" }

// SecretName is the name of the Git credentials Secret.
func SecretName(project string) string { return project + "-git" }

// objectLabels are the labels every object of an environment carries.
func objectLabels(s EnvironmentSpec) map[string]string {
	return map[string]string{
		LabelManagedBy:   ManagedBy,
		LabelProject:     s.Project,
		LabelEnvironment: s.Environment,
	}
}
