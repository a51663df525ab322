package kube

import (
	"context"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// Rollout is how far Flux got with an environment's revision.
type Rollout struct {
	// Current is false when the GitRepository does not ask for the
	// revision (someone applied another since): apply it again.
	Current bool
	// Done: the Kustomization is Ready for its generation at the revision.
	Done bool
	// Failed: Flux failed or stalled on the revision; Status says how.
	Failed bool
	// Status is the object that decides: the Kustomization's status, or
	// the GitRepository's when that is what fails.
	Status onramp.Resource
}

// Rollout reads the environment's GitRepository and Kustomization straight
// from the apiserver and says whether Flux is Ready at spec.Revision, has
// failed on it, or is still working. A failure counts only when it is
// about the revision: the GitRepository's for its current generation (the
// revision is in its spec), the Kustomization's when its last attempted
// revision is the one wanted; an earlier failure of the environment is not
// the promotion's.
func (c *Client) Rollout(ctx context.Context, spec EnvironmentSpec) (Rollout, error) {
	s := spec.withDefaults()
	key := client.ObjectKey{Namespace: s.Namespace, Name: s.Project}
	var repo sourcev1.GitRepository
	if err := c.c.Get(ctx, key, &repo); err != nil {
		return Rollout{}, fmt.Errorf("read GitRepository %s: %w", key, err)
	}
	var ks kustomizev1.Kustomization
	if err := c.c.Get(ctx, key, &ks); err != nil {
		return Rollout{}, fmt.Errorf("read Kustomization %s: %w", key, err)
	}
	want := GitRepository(spec).Spec.Reference
	r := Rollout{Current: refCommit(repo.Spec.Reference) == want.Commit && refBranch(repo.Spec.Reference) == want.Branch &&
		repo.GetAnnotations()[AnnotationRevision] == s.Revision}
	if !r.Current {
		r.Status = Status(&repo, s.Revision)
		return r, nil
	}
	if src := Status(&repo, s.Revision); src.Status == onramp.StatusFailed || src.Status == onramp.StatusStalled {
		r.Failed, r.Status = true, src
		return r, nil
	}
	r.Status = Status(&ks, s.Revision)
	switch r.Status.Status {
	case onramp.StatusReady:
		r.Done = true
	case onramp.StatusFailed, onramp.StatusStalled:
		r.Failed = ks.Status.LastAttemptedRevision == s.Revision
	}
	return r, nil
}
