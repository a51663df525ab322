package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// CheckNamespaces refuses, with an EINVALID error naming the first such
// namespace, a project whose namespaces exist in the cluster without being
// onramp's for that same project: onramp never takes over, relabels or
// deletes a namespace someone else made. Namespaces that do not exist yet
// are free.
func (c *Client) CheckNamespaces(ctx context.Context, project string, namespaces []string) error {
	for _, ns := range namespaces {
		if err := c.checkNamespace(ctx, project, ns); err != nil {
			return err
		}
	}
	return nil
}

// checkNamespace reads one namespace's labels; metadata only.
func (c *Client) checkNamespace(ctx context.Context, project, name string) error {
	var ns corev1.Namespace
	err := c.c.Get(ctx, client.ObjectKey{Name: name}, &ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check namespace %s: %w", name, err)
	}
	return foreignNamespace(project, &ns)
}

// foreignNamespace returns the refusal for a namespace that is not onramp's
// for project, or nil.
func foreignNamespace(project string, ns *corev1.Namespace) error {
	l := ns.GetLabels()
	if l[LabelManagedBy] == ManagedBy && l[LabelProject] == project {
		return nil
	}
	return onramp.Errorf(onramp.EINVALID,
		"namespace %s already exists and was not created by onramp for project %s; onramp neither takes it over nor deletes it: "+
			"choose another project or environment name, or remove the namespace", ns.Name, project)
}
