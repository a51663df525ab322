package onramp

import (
	"encoding/json"
	"time"
)

// Event types on a project's stream.
const (
	EventSnapshot = "snapshot"
	EventProgress = "progress"
	EventStep     = "step"
	EventLog      = "log"
	EventResource = "resource"
	EventPhase    = "phase"
	// EventPromotion carries a promotion or rollback whose status changed.
	EventPromotion = "promotion"
	// EventMember carries a member added, changed or (without a role) removed.
	EventMember = "member"
)

// Event is one change to a project, stored in order so that a stream can
// resume from any event without gaps or duplicates.
type Event struct {
	ID      int64           `json:"id"`
	Project string          `json:"project"`
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
	At      time.Time       `json:"at"`
}
