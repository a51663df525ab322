package onramp

// InitializeJob is the queued initialization (or repair) of a project. It
// carries no secret. Request tells requests apart: a retry asked while an
// earlier run is finishing is a job of its own, not a duplicate to drop;
// runs are idempotent, so two may overlap.
type InitializeJob struct {
	ProjectID int64 `json:"project_id"`
	Request   int64 `json:"request,omitempty"`
}

// Kind names the job for the queue.
func (InitializeJob) Kind() string { return "initialize_project" }

// DeleteJob is the queued deletion of a project.
type DeleteJob struct {
	ProjectID int64 `json:"project_id"`
	DeleteOptions
}

// Kind names the job for the queue.
func (DeleteJob) Kind() string { return "delete_project" }

// SweepJob fails the initializations whose job ended without recording an
// end; the queue's leader enqueues it every minute.
type SweepJob struct{}

// Kind names the job for the queue.
func (SweepJob) Kind() string { return "fail_lost_initializations" }

// PromoteJob applies an approved promotion or rollback and follows it until
// Flux is Ready at its revision or fails.
type PromoteJob struct {
	PromotionID int64 `json:"promotion_id"`
}

// Kind names the job for the queue.
func (PromoteJob) Kind() string { return "promote_environment" }
