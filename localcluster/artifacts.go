package localcluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// artifactMoveTimeout bounds how long a restart waits for source-controller
// to rewrite artifact URLs before starting kustomize-controller anyway.
const artifactMoveTimeout = 30 * time.Second

// artifactSources are the Flux sources whose artifacts source-controller
// serves and kustomize-controller downloads.
func artifactSources() []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	for _, r := range []string{"gitrepositories", "ocirepositories", "buckets"} {
		out = append(out, schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: r})
	}
	return out
}

// staleArtifacts lists the sources (namespace/name) whose
// status.artifact.url does not point at storage, the URL prefix of this
// run's source-controller. They exist after a restart on a data dir whose
// storage port could not be reused: kustomize-controller would retry the
// dead URL with backoff for minutes, so Start lets source-controller
// rewrite them first.
func staleArtifacts(ctx context.Context, dyn dynamic.Interface, storage string) ([]string, error) {
	var stale []string
	for _, gvr := range artifactSources() {
		list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for _, item := range list.Items {
			url, _, _ := unstructured.NestedString(item.Object, "status", "artifact", "url")
			if url != "" && !strings.HasPrefix(url, storage) {
				stale = append(stale, gvr.Resource+"/"+item.GetNamespace()+"/"+item.GetName())
			}
		}
	}
	return stale, nil
}

// waitArtifactsMoved waits for source-controller to be ready and to rewrite
// the stale artifact URLs. If some are still stale after
// artifactMoveTimeout (a source whose reconcile keeps failing), it logs them
// and returns nil: Flux recovers on its own, only slowly.
func (c *Cluster) waitArtifactsMoved(ctx context.Context, sc *process, ready func(context.Context) error, dyn dynamic.Interface, storage string, stale []string, begin time.Time) error {
	c.log.Info("localcluster waiting for source-controller to move artifact URLs to its new port", "sources", len(stale))
	if err := c.waitReady(ctx, sc, ready, begin); err != nil {
		return err
	}
	deadline := time.Now().Add(artifactMoveTimeout)
	for len(stale) > 0 && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for artifact URLs to move: %w", ctx.Err())
		case <-sc.done:
			return sc.exitError()
		case <-time.After(100 * time.Millisecond):
		}
		var err error
		if stale, err = staleArtifacts(ctx, dyn, storage); err != nil {
			return err
		}
	}
	if len(stale) > 0 {
		c.log.Warn("localcluster artifact URLs still point at the old storage port; their Kustomizations recover after kustomize-controller's HTTP retries", "sources", stale)
	}
	return nil
}
