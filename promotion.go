package onramp

import (
	"fmt"
	"strings"
	"time"
)

// Role is what a member may do with a project. Each role may do what the
// roles before it may.
type Role string

// The roles of a project's members. The owner is an admin.
const (
	RoleViewer   Role = "viewer"   // sees the project
	RoleDeployer Role = "deployer" // promotes, rolls back, retries, approves
	RoleAdmin    Role = "admin"    // manages members, deletes
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a member with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleDeployer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Member is a user with a role in a project. The owner is listed as an
// admin who cannot be removed.
type Member struct {
	User    string    `json:"user"`
	Role    Role      `json:"role"`
	Owner   bool      `json:"owner,omitempty"`
	AddedBy string    `json:"added_by,omitempty"`
	AddedAt time.Time `json:"added_at"`
}

// PolicyMode is how an environment's revision moves.
type PolicyMode string

// The policy modes.
const (
	// PolicyAuto follows the repository's branch: every pushed commit
	// deploys at once.
	PolicyAuto PolicyMode = "auto"
	// PolicyPromote moves only by a promotion or a rollback.
	PolicyPromote PolicyMode = "promote"
)

// Policy says how an environment's revision moves and who must agree.
type Policy struct {
	Mode PolicyMode `json:"mode"`
	// Approvals is how many deployers or admins other than the requester
	// must approve a promotion before it is applied.
	Approvals int `json:"approvals"`
	// RollbackSkipsApprovals lets a rollback be applied without approvals.
	RollbackSkipsApprovals bool `json:"rollback_skips_approvals,omitempty"`
}

// MaxApprovals bounds an environment's approvals.
const MaxApprovals = 10

// DefaultPolicy is the policy of an environment type unless the template
// or the project says otherwise: development follows the branch, staging
// moves by promotion, production by promotion with one approval.
func DefaultPolicy(t EnvironmentType) Policy {
	switch t {
	case Development:
		return Policy{Mode: PolicyAuto}
	case Staging:
		return Policy{Mode: PolicyPromote}
	default:
		return Policy{Mode: PolicyPromote, Approvals: 1}
	}
}

// Validate checks a policy; field names the input it came from.
func (p Policy) Validate(field string) error {
	switch {
	case p.Mode != PolicyAuto && p.Mode != PolicyPromote:
		return FieldErrorf(field+".mode", "policy mode %q is not auto (follows the branch) or promote (moves by promotion)", p.Mode)
	case p.Approvals < 0 || p.Approvals > MaxApprovals:
		return FieldErrorf(field+".approvals", "approvals must be from 0 to %d, not %d", MaxApprovals, p.Approvals)
	case p.Mode == PolicyAuto && p.Approvals > 0:
		return FieldErrorf(field+".approvals", "an auto environment deploys every push and takes no approvals; use mode promote to require %d", p.Approvals)
	}
	return nil
}

// PolicySpec overrides parts of an environment's policy at creation.
type PolicySpec struct {
	Mode                   PolicyMode `json:"mode,omitempty"`
	Approvals              *int       `json:"approvals,omitempty"`
	RollbackSkipsApprovals *bool      `json:"rollback_skips_approvals,omitempty"`
}

// Apply returns base with s's fields that are set.
func (s *PolicySpec) Apply(base Policy) Policy {
	if s == nil {
		return base
	}
	if s.Mode != "" {
		base.Mode = s.Mode
		if s.Mode == PolicyAuto && s.Approvals == nil {
			base.Approvals = 0
		}
	}
	if s.Approvals != nil {
		base.Approvals = *s.Approvals
	}
	if s.RollbackSkipsApprovals != nil {
		base.RollbackSkipsApprovals = *s.RollbackSkipsApprovals
	}
	return base
}

// PromotionStatus is where a promotion is.
type PromotionStatus string

// The statuses of a promotion, in order; done, failed and superseded end it.
const (
	PromotionWaiting     PromotionStatus = "waiting-approval"
	PromotionApplying    PromotionStatus = "applying"
	PromotionReconciling PromotionStatus = "reconciling"
	PromotionDone        PromotionStatus = "done"
	PromotionFailed      PromotionStatus = "failed"
	PromotionSuperseded  PromotionStatus = "superseded"
)

// Final reports whether s ends the promotion.
func (s PromotionStatus) Final() bool {
	return s == PromotionDone || s == PromotionFailed || s == PromotionSuperseded
}

// The kinds of promotion.
const (
	KindPromotion = "promotion"
	KindRollback  = "rollback"
)

// Promotion moves one environment to a revision: a promotion from the
// environment before it, or a rollback to a revision it ran before. It is
// the environment's audit trail.
type Promotion struct {
	ID          int64           `json:"id"`
	Project     string          `json:"project"`
	Environment string          `json:"environment"`
	Kind        string          `json:"kind"`
	Revision    string          `json:"revision"`
	Message     string          `json:"message,omitempty"`
	From        string          `json:"from_revision,omitempty"`
	RequestedBy string          `json:"requested_by"`
	Forced      bool            `json:"forced,omitempty"`
	Needed      int             `json:"approvals_needed"`
	Approvals   []Approval      `json:"approvals"`
	Status      PromotionStatus `json:"status"`
	Error       string          `json:"error,omitempty"`
	Hint        string          `json:"hint,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	ReadyAt     *time.Time      `json:"ready_at,omitempty"`
	// SupersededBy is the promotion that replaced this one.
	SupersededBy int64 `json:"superseded_by,omitempty"`
}

// Approval is a teammate's agreement to a promotion.
type Approval struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

// PromotionRequest asks to move an environment. For a promotion,
// Revision defaults to what the environment before runs and is Ready at;
// for a rollback, to the last revision that was Ready in the environment
// before the one it runs.
type PromotionRequest struct {
	Environment string `json:"environment"`
	Revision    string `json:"revision,omitempty"`
	Force       bool   `json:"force,omitempty"`
	Rollback    bool   `json:"rollback,omitempty"`
}

// MemberChange adds a member or changes a member's role.
type MemberChange struct {
	User string `json:"user"`
	Role Role   `json:"role"`
}

// Validate checks a member change.
func (c MemberChange) Validate() error {
	if c.User == "" {
		return FieldErrorf("user", "user is required")
	}
	if !c.Role.Valid() {
		return FieldErrorf("role", "role %q is not viewer, deployer or admin", c.Role)
	}
	return nil
}

// ShortRevision is a revision as people read it: the first seven
// characters of its commit ("main@sha1:0123456789ab…" → "0123456").
func ShortRevision(rev string) string {
	sha := CommitOf(rev)
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// CommitOf is the commit SHA of a revision as Flux writes it
// ("main@sha1:<sha>", "sha1:<sha>") or a bare SHA.
func CommitOf(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		return rev[i+1:]
	}
	return rev
}

// SameRevision reports whether a names the revision b does: equal commits,
// or a is a prefix of at least seven characters of b's commit.
func SameRevision(a, b string) bool {
	ca, cb := CommitOf(a), CommitOf(b)
	if ca == "" || cb == "" {
		return false
	}
	return ca == cb || (len(ca) >= 7 && strings.HasPrefix(cb, ca))
}

// ForbiddenError is the refusal of an action to a member whose role does
// not allow it.
func ForbiddenError(project, action string, have, need Role) error {
	return Errorf(EFORBIDDEN, "%s needs the %s role in project %s; you are a %s: ask one of its admins (`onramp project member list %s`)", action, need, project, have, project)
}

// NotReadyError is the refusal of a promotion from an environment that is
// not Ready at the revision.
func NotReadyError(env, rev, why string) error {
	msg := fmt.Sprintf("%s is not Ready at %s", env, ShortRevision(rev))
	if why != "" {
		msg += ": " + why
	}
	return Errorf(ECONFLICT, "%s; wait until it is, or promote another revision", msg)
}
