package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/store"
	"github.com/onramp/onramp/store/storetest"
	"github.com/riverqueue/river/rivertype"
)

// TestGitFail checks how a Git provider's failure is taken: one that may
// pass (no answer, a 5xx, a rate limit) is retried; a refused token or a
// repository that is not onramp's fails the step with the adapter's
// message and a hint to retry once it is fixed.
func TestGitFail(t *testing.T) {
	foreign := "repository platform/shop already exists and was not created by onramp: choose another project name or remove it"
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantMessage   string
	}{
		{"unavailable", &gitprovider.Error{Op: "create repository", Code: onramp.EUNAVAILABLE, Retry: true, Message: "Gitea did not answer: onramp tries again"}, false, "Gitea did not answer"},
		{"token refused", &gitprovider.Error{Op: "create repository", Status: 401, Code: onramp.EUNAUTHORIZED, Message: "Gitea refused the token"}, true, "Gitea refused the token"},
		{"foreign repository", &gitprovider.Error{Op: "create repository", Status: 409, Code: onramp.ECONFLICT, Message: foreign}, true, foreign},
		{"wrapped unavailable", fmt.Errorf("push: %w", &gitprovider.Error{Code: onramp.EUNAVAILABLE, Retry: true, Message: "Gitea answered 502: onramp tries again"}), false, "Gitea answered 502"},
	}
	for _, tt := range tests {
		err := gitFail(tt.err, "shop")
		if got := permanent(err); got != tt.wantPermanent {
			t.Errorf("%s: permanent(gitFail(err)) = %v; want %v", tt.name, got, tt.wantPermanent)
		}
		if got := message(err); !strings.Contains(got, tt.wantMessage) {
			t.Errorf("%s: message = %q; want it to contain %q", tt.name, got, tt.wantMessage)
		}
		if retryable := errors.Is(err, gitprovider.ErrUnavailable); retryable == tt.wantPermanent {
			t.Errorf("%s: errors.Is(ErrUnavailable) = %v with permanent %v", tt.name, retryable, tt.wantPermanent)
		}
		if tt.wantPermanent && !strings.Contains(hintOf(err), "onramp project retry shop") {
			t.Errorf("%s: hint = %q; want it to say to retry", tt.name, hintOf(err))
		}
	}
}

// A provider's rate limit with an announced end makes the job wait until
// then (a snooze, logged), not fail an attempt on River's backoff.
func TestRateLimitWaits(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	p := &onramp.Project{Name: storetest.Name("limited"), Template: "web-service",
		Environments: []onramp.Environment{{Name: "dev", Type: onramp.Development, Namespace: "limited-dev", Path: "./"}}}
	if err := db.CreateProject(context.Background(), "alice", p); err != nil {
		t.Fatal(err)
	}
	r := &initialization{Deps: &Deps{Store: db, Logger: slog.New(slog.DiscardHandler)}, p: p, attempt: 1, maxAttempts: 10}
	limited := &gitprovider.Error{Op: "create repository", Status: 403, Code: onramp.EUNAVAILABLE, Retry: true,
		Reset: time.Now().Add(30 * time.Second), Message: "GitHub's rate limit is used up until 12:00"}
	err := r.failed(context.Background(), "create_repository", gitFail(limited, p.Name))
	var snooze *rivertype.JobSnoozeError
	if !errors.As(err, &snooze) || snooze.Duration < 25*time.Second || snooze.Duration > 30*time.Second {
		t.Fatalf("failed(rate limited until +30s) = %v; want a snooze of about 30s", err)
	}
	logs, _ := db.ProjectLogs(context.Background(), "alice", p.Name, 0)
	if len(logs) == 0 || !strings.Contains(logs[len(logs)-1].Message, "rate limit ends in") {
		t.Errorf("log = %+v; want the wait logged", logs)
	}
	if err := r.failed(context.Background(), "create_repository", gitFail(&gitprovider.Error{Code: onramp.EUNAVAILABLE, Retry: true, Message: "no answer"}, p.Name)); errors.As(err, &snooze) {
		t.Errorf("failed(no announced end) = a snooze; want River's backoff")
	}
}
