package status

import (
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

func TestDiagnose(t *testing.T) {
	facts := Facts{Project: "shop", CredentialExists: func() bool { return true },
		Overlays: func() []string { return []string{"./deploy/overlays/dev", "./deploy/overlays/prod"} }}
	tests := []struct {
		name       string
		in         onramp.Resource
		facts      Facts
		wantStatus onramp.ResourceStatus
		wantHint   []string // substrings
	}{
		{
			name: "path not found names existing overlays",
			in: onramp.Resource{Kind: "Kustomization", Namespace: "shop-development", Name: "shop", Status: onramp.StatusFailed, Reason: "ArtifactFailed", Revision: "main@sha1:abc",
				Message: "kustomization path not found: stat /tmp/kustomization-1234567/deploy/overlays/development: no such file or directory"},
			facts:      facts,
			wantStatus: onramp.StatusFailed,
			wantHint:   []string{"./deploy/overlays/development does not exist in revision main@sha1:abc", "./deploy/overlays/dev, ./deploy/overlays/prod", "onramp project retry shop"},
		},
		{
			name: "path not found under another TMPDIR",
			in: onramp.Resource{Kind: "Kustomization", Namespace: "shop-staging", Name: "shop", Status: onramp.StatusFailed, Reason: "ArtifactFailed", Revision: "main@sha1:abc",
				Message: "kustomization path not found: stat /var/lib/flux/tmp/kustomization-42/deploy/overlays/staging: no such file or directory"},
			facts:      facts,
			wantStatus: onramp.StatusFailed,
			wantHint:   []string{"./deploy/overlays/staging does not exist"},
		},
		{
			name: "authentication failure with credential kept",
			in: onramp.Resource{Kind: "GitRepository", Namespace: "shop-staging", Name: "shop", Status: onramp.StatusFailed, Reason: "GitOperationFailed",
				Message: "failed to checkout and determine revision: unable to clone 'http://127.0.0.1:8080/git/shop.git': authentication required: unauthorized\n"},
			facts:      facts,
			wantStatus: onramp.StatusFailed,
			wantHint:   []string{"Secret shop-staging/shop-git", "still holds", "onramp project retry shop"},
		},
		{
			name: "authentication failure with credential gone",
			in: onramp.Resource{Kind: "GitRepository", Namespace: "shop-staging", Name: "shop", Status: onramp.StatusFailed, Reason: "GitOperationFailed",
				Message: "failed to checkout and determine revision: unable to clone 'http://x/shop.git': authentication required: unauthorized\n"},
			facts:      Facts{Project: "shop"},
			wantStatus: onramp.StatusFailed,
			wantHint:   []string{"no longer holds a read credential"},
		},
		{
			name:       "source not ready is a wait, not a failure",
			in:         onramp.Resource{Kind: "Kustomization", Namespace: "shop-production", Name: "shop", Status: onramp.StatusFailed, Reason: "ArtifactFailed", Message: "Source artifact not found, retrying in 30s"},
			facts:      facts,
			wantStatus: onramp.StatusReconciling,
			wantHint:   []string{"waits for GitRepository shop-production/shop"},
		},
		{
			name: "health check names the objects",
			in: onramp.Resource{Kind: "Kustomization", Status: onramp.StatusFailed, Reason: "HealthCheckFailed",
				Message: "health check failed after 30.0s: timeout waiting for: [Deployment/shop-development/web status: 'InProgress']"},
			facts:      facts,
			wantStatus: onramp.StatusFailed,
			wantHint:   []string{"Deployment/shop-development/web status: 'InProgress'"},
		},
		{
			name:       "build failure quotes kustomize",
			in:         onramp.Resource{Kind: "Kustomization", Status: onramp.StatusFailed, Reason: "BuildFailed", Revision: "main@sha1:1", Message: "kustomize build failed: accumulating resources: missing.yaml: no such file\nmore"},
			facts:      facts,
			wantStatus: onramp.StatusFailed,
			wantHint:   []string{"kustomize build failed in revision main@sha1:1: kustomize build failed: accumulating resources: missing.yaml: no such file"},
		},
		{
			name:       "missing object",
			in:         onramp.Resource{Kind: "Kustomization", Namespace: "shop-development", Name: "shop", Status: onramp.StatusMissing},
			facts:      facts,
			wantStatus: onramp.StatusMissing,
			wantHint:   []string{"deleted outside onramp", "onramp project retry shop"},
		},
		{
			name:       "stalled",
			in:         onramp.Resource{Kind: "Kustomization", Status: onramp.StatusStalled, Reason: "InvalidPath", Message: "spec.path is invalid"},
			facts:      facts,
			wantStatus: onramp.StatusStalled,
			wantHint:   []string{"Flux stopped retrying: spec.path is invalid"},
		},
		{
			name:       "ready has no hint",
			in:         onramp.Resource{Kind: "Kustomization", Status: onramp.StatusReady, Reason: "ReconciliationSucceeded", Hint: "stale"},
			facts:      facts,
			wantStatus: onramp.StatusReady,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diagnose(tt.in, tt.facts)
			if got.Status != tt.wantStatus {
				t.Errorf("Diagnose(%q).Status = %s; want %s", tt.in.Message, got.Status, tt.wantStatus)
			}
			if len(tt.wantHint) == 0 && got.Hint != "" {
				t.Errorf("Diagnose(%q).Hint = %q; want none", tt.in.Message, got.Hint)
			}
			for _, w := range tt.wantHint {
				if !strings.Contains(got.Hint, w) {
					t.Errorf("Diagnose(%q).Hint = %q; want it to contain %q", tt.in.Message, got.Hint, w)
				}
			}
		})
	}
}

// The facts that cost a read of the repository or the database are read
// only by the hints that name them, not for objects on their way to ready.
func TestDiagnoseReadsFactsOnlyWhenUsed(t *testing.T) {
	reads := 0
	facts := Facts{Project: "shop",
		Overlays:         func() []string { reads++; return nil },
		CredentialExists: func() bool { reads++; return true }}
	for _, r := range []onramp.Resource{
		{Kind: "GitRepository", Status: onramp.StatusReconciling, Reason: "Progressing", Message: "building artifact"},
		{Kind: "Kustomization", Status: onramp.StatusFailed, Reason: "ArtifactFailed", Message: "Source artifact not found, retrying in 30s"},
		{Kind: "Kustomization", Status: onramp.StatusFailed, Reason: "BuildFailed", Message: "kustomize build failed"},
	} {
		Diagnose(r, facts)
	}
	if reads != 0 {
		t.Errorf("facts read %d times for hints that do not use them", reads)
	}
	Diagnose(onramp.Resource{Kind: "GitRepository", Status: onramp.StatusFailed, Reason: "GitOperationFailed", Message: "authentication required"}, facts)
	if reads != 1 {
		t.Errorf("facts read %d times for an authentication failure; want 1 (the credential)", reads)
	}
}
