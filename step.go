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
