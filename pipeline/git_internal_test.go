package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/gitprovider"
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
