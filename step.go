package onramp

import "time"

// StepStatus is the state of one initialization or deletion step.
type StepStatus string

// The statuses of a step.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
)

// Step is one named, weighted part of a project's initialization or deletion.
type Step struct {
	Name       string     `json:"name"`
	Weight     int        `json:"weight"`
	Status     StepStatus `json:"status"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Error      string     `json:"error,omitempty"`
	Hint       string     `json:"hint,omitempty"`
}

// StepDone is the successful end of a step, written in one transaction so
// that a step costs one commit (or less: a step that does no I/O of its own
// ends in the transaction of the step before): the step is marked
// succeeded, progress is raised (never lowered), the step's log line is
// appended and the next step is marked running.
type StepDone struct {
	Step     string
	Progress int    // 0: unchanged; 100 also marks an initializing project provisioned
	Log      string // "" for none
	Next     string // "" for none
	// Repository, if set, is recorded as the project's repository.
	Repository *Repository
	// Applied, if set, is recorded first: the step's last objects.
	Applied *Applied
	// Recorded, if set, are objects that must each be recorded when the
	// step ends: checked in the same transaction, so that no record can go
	// between the check and the progress. If one is not, nothing is written
	// and the error, with code ECONFLICT, names it.
	Recorded []Resource
}

// Applied is what one apply of an environment's objects leaves to record,
// in one transaction: the objects the apiserver accepted, the progress they
// are worth and the log line.
type Applied struct {
	Environment string
	Resources   []Resource
	// Status, if set, becomes the environment's status (the whole
	// environment was applied).
	Status   ResourceStatus
	Progress int // 0: unchanged
	Step     string
	Log      string
}

// StepDef names a step and its share of the progress bar.
type StepDef struct {
	Name   string
	Weight int
}

// Initialization steps, in order. Weights add up to 100 so that progress is
// the weight of verified, finished work.
var InitSteps = []StepDef{
	{"render_template", 5},
	{"create_repository", 10},
	{"push_commit", 15},
	{"setup_gitops", 55},
	{"verify", 10},
	{"finalize", 5},
}

// DeleteSteps are the steps of a project's deletion, in order.
var DeleteSteps = []StepDef{
	{"delete_kustomizations", 30},
	{"delete_sources", 15},
	{"delete_namespaces", 35},
	{"delete_repository", 10},
	{"delete_records", 10},
}

// LogLine is one line of a project's initialization or deletion log.
type LogLine struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Step    string    `json:"step,omitempty"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}
