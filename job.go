package onramp

// InitializeJob is the queued initialization of a project. It carries only
// the project's ID: never a secret.
type InitializeJob struct {
	ProjectID int64 `json:"project_id"`
}

// Kind names the job for the queue.
func (InitializeJob) Kind() string { return "initialize_project" }

// DeleteJob is the queued deletion of a project.
type DeleteJob struct {
	ProjectID int64 `json:"project_id"`
}

// Kind names the job for the queue.
func (DeleteJob) Kind() string { return "delete_project" }
