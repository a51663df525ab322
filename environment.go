package onramp

import "time"

// EnvironmentType is the kind of an environment.
type EnvironmentType string

// The environment types.
const (
	Development EnvironmentType = "development"
	Staging     EnvironmentType = "staging"
	Production  EnvironmentType = "production"
)

// Valid reports whether t is a known environment type.
func (t EnvironmentType) Valid() bool {
	return t == Development || t == Staging || t == Production
}

// Interval is how often Flux reconciles an environment of this type:
// development changes often, production is checked less eagerly.
func (t EnvironmentType) Interval() time.Duration {
	switch t {
	case Development:
		return time.Minute
	case Staging:
		return 5 * time.Minute
	default:
		return 10 * time.Minute
	}
}

// Environment is one deployment target of a project.
type Environment struct {
	Name      string          `json:"name"`
	Type      EnvironmentType `json:"type"`
	Namespace string          `json:"namespace"`
	Path      string          `json:"path"`
	Interval  Duration        `json:"interval"`
	Status    ResourceStatus  `json:"status"`
	Policy    Policy          `json:"policy"`
	// Revision is what the environment is meant to run: the branch head
	// for an auto environment, the promoted revision otherwise. Status
	// is ready only when Flux is Ready at it.
	Revision string `json:"revision,omitempty"`
	// Message is the revision's commit message.
	Message string `json:"message,omitempty"`
	// DeployedBy is who promoted or rolled back to Revision; "" when a
	// push or the initialization put it there.
	DeployedBy string     `json:"deployed_by,omitempty"`
	DeployedAt *time.Time `json:"deployed_at,omitempty"`
}

// Namespace is the Kubernetes namespace of a project's environment.
func Namespace(project, environment string) string {
	return project + "-" + environment
}

// Duration is a time.Duration that reads and writes as "1m0s" in JSON.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
