package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// Verify reads every object the environments should have straight from the
// apiserver and compares it with what ApplyEnvironment would apply: labels,
// the onramp field manager, and the fields that make Flux deploy the right
// thing (URL, branch, path, service account …). It returns the status of
// each object (StatusMissing for those not found) and, when anything is
// missing or different, an error naming every such object and field. Secret
// values are compared but never printed.
//
// applied, when not empty, holds what the apiserver answered when the
// objects were applied: each of those is then read "not older than" that
// answer, from the apiserver's watch cache instead of a quorum read of etcd
// (BenchmarkVerify). A change since, a deletion included, is seen once that
// cache has it, milliseconds after etcd (a quorum read is no fresher a
// moment later).
func (c *Client) Verify(ctx context.Context, project string, envs []EnvironmentSpec, applied []onramp.Resource) ([]onramp.Resource, error) {
	type check struct {
		want     client.Object
		revision string
		version  string
		got      onramp.Resource
		err      error
	}
	versions := make(map[string]string, len(applied))
	for _, r := range applied {
		versions[r.Kind+"/"+r.Namespace+"/"+r.Name] = r.ResourceVersion
	}
	var checks []*check
	for _, spec := range envs {
		if spec.Project == "" {
			spec.Project = project
		}
		if spec.Project != project {
			return nil, fmt.Errorf("verify %s: environment %q belongs to project %q", project, spec.Environment, spec.Project)
		}
		spec = spec.withDefaults()
		for _, want := range Objects(spec) {
			v := versions[kindOf(want)+"/"+want.GetNamespace()+"/"+want.GetName()]
			checks = append(checks, &check{want: want, revision: spec.Revision, version: v})
		}
	}
	// The reads are independent: all of them at once.
	var wg sync.WaitGroup
	for _, ch := range checks {
		wg.Go(func() { ch.got, ch.err = c.verifyObject(ctx, ch.want, ch.revision, ch.version) })
	}
	wg.Wait()
	var out []onramp.Resource
	var problems []error
	for _, ch := range checks {
		if ch.err != nil && !isMismatch(ch.err) {
			return out, ch.err
		}
		out = append(out, ch.got)
		if ch.err != nil {
			problems = append(problems, ch.err)
		}
	}
	if len(problems) > 0 {
		return out, fmt.Errorf("verify project %s: %d of %d objects missing or different: %w",
			project, len(problems), len(out), errors.Join(problems...))
	}
	return out, nil
}

// MismatchError says that an object is missing from the cluster or differs
// from what onramp applies.
type MismatchError struct {
	Kind, Name string // Name is namespace/name
	Missing    bool
	Problems   []string
}

func (e *MismatchError) Error() string {
	if e.Missing {
		return fmt.Sprintf("%s %s is missing", e.Kind, e.Name)
	}
	return fmt.Sprintf("%s %s differs: %s", e.Kind, e.Name, strings.Join(e.Problems, "; "))
}

// isMismatch reports whether err is a MismatchError rather than a failure
// to read.
func isMismatch(err error) bool {
	var m *MismatchError
	return errors.As(err, &m)
}

// verifyObject reads want's live counterpart, not older than version when
// that is set, and compares the two.
func (c *Client) verifyObject(ctx context.Context, want client.Object, revision, version string) (onramp.Resource, error) {
	got, err := c.readBack(ctx, want, version)
	if apierrors.IsNotFound(err) {
		r := Status(want, revision)
		r.Status, r.Reason, r.Message, r.Hint = onramp.StatusMissing, "NotFound", "", ""
		r.Revision, r.ObservedAt = "", time.Now()
		return r, &MismatchError{Kind: kindOf(want), Name: objectName(want), Missing: true}
	}
	if err != nil {
		return onramp.Resource{}, fmt.Errorf("verify %s %s: %w", kindOf(want), objectName(want), err)
	}
	r := Status(got, revision)
	r.ObservedAt = time.Now()
	if p := differences(want, got); len(p) > 0 {
		return r, &MismatchError{Kind: kindOf(want), Name: objectName(want), Problems: p}
	}
	return r, nil
}

// readBack reads the live counterpart of want, not older than version when
// that is set: a GET "not older than" version is served from the
// apiserver's watch cache, as current as the apply's answer; without
// version it is a quorum read of etcd.
func (c *Client) readBack(ctx context.Context, want client.Object, version string) (client.Object, error) {
	var opts []client.GetOption
	if version != "" {
		opts = append(opts, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: version}})
	}
	got := want.DeepCopyObject().(client.Object)
	return got, c.c.Get(ctx, client.ObjectKeyFromObject(want), got, opts...)
}

// differences lists how got differs from want, in the fields onramp owns.
func differences(want, got client.Object) []string {
	var p []string
	for k, v := range want.GetLabels() {
		if got.GetLabels()[k] != v {
			p = append(p, fmt.Sprintf("label %s is %q, want %q", k, got.GetLabels()[k], v))
		}
	}
	if !appliedBy(got, FieldManager) {
		p = append(p, fmt.Sprintf("not server-side applied by field manager %q", FieldManager))
	}
	if deleting(got) {
		p = append(p, "is being deleted")
	}
	switch w := want.(type) {
	case *rbacv1.RoleBinding:
		p = append(p, roleBindingDiff(w, got.(*rbacv1.RoleBinding))...)
	case *corev1.Secret:
		p = append(p, secretDiff(w, got.(*corev1.Secret))...)
	case *sourcev1.GitRepository:
		p = append(p, gitRepositoryDiff(w, got.(*sourcev1.GitRepository))...)
	case *kustomizev1.Kustomization:
		p = append(p, kustomizationDiff(w, got.(*kustomizev1.Kustomization))...)
	}
	return p
}

// appliedBy reports whether manager has applied fields of obj.
func appliedBy(obj client.Object, manager string) bool {
	for _, f := range obj.GetManagedFields() {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// field returns a difference line when got != want.
func field[T comparable](name string, got, want T) []string {
	if got == want {
		return nil
	}
	return []string{fmt.Sprintf("%s is %v, want %v", name, quote(got), quote(want))}
}

// quote shows strings quoted so that empty values are visible.
func quote(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func roleBindingDiff(want, got *rbacv1.RoleBinding) []string {
	p := field("roleRef", got.RoleRef, want.RoleRef)
	if len(got.Subjects) != 1 || got.Subjects[0] != want.Subjects[0] {
		p = append(p, fmt.Sprintf("subjects are %v, want only %v", got.Subjects, want.Subjects[0]))
	}
	return p
}

// secretDiff never prints values: only which key is wrong.
func secretDiff(want, got *corev1.Secret) []string {
	p := field("type", got.Type, want.Type)
	for k, v := range want.Data {
		if !bytes.Equal(got.Data[k], v) {
			p = append(p, fmt.Sprintf("data[%s] is not the value onramp set", k))
		}
	}
	for k := range got.Data {
		if _, ok := want.Data[k]; !ok {
			p = append(p, fmt.Sprintf("data[%s] is not a key onramp set", k))
		}
	}
	sort.Strings(p)
	return p
}

func gitRepositoryDiff(want, got *sourcev1.GitRepository) []string {
	w, g := want.Spec, got.Spec
	p := field("spec.url", g.URL, w.URL)
	p = append(p, field("spec.ref.branch", refBranch(g.Reference), w.Reference.Branch)...)
	p = append(p, field("spec.ref.commit", refCommit(g.Reference), w.Reference.Commit)...)
	p = append(p, field("spec.secretRef.name", secretRefName(g), w.SecretRef.Name)...)
	p = append(p, field("spec.interval", g.Interval.Duration, w.Interval.Duration)...)
	return append(p, field("spec.suspend", g.Suspend, false)...)
}

func kustomizationDiff(want, got *kustomizev1.Kustomization) []string {
	w, g := want.Spec, got.Spec
	p := field("spec.sourceRef.kind", g.SourceRef.Kind, w.SourceRef.Kind)
	p = append(p, field("spec.sourceRef.name", g.SourceRef.Name, w.SourceRef.Name)...)
	if g.SourceRef.Namespace != "" {
		p = append(p, field("spec.sourceRef.namespace", g.SourceRef.Namespace, got.Namespace)...)
	}
	p = append(p, field("spec.path", g.Path, w.Path)...)
	p = append(p, field("spec.prune", g.Prune, w.Prune)...)
	p = append(p, field("spec.wait", g.Wait, w.Wait)...)
	p = append(p, field("spec.targetNamespace", g.TargetNamespace, w.TargetNamespace)...)
	p = append(p, field("spec.serviceAccountName", g.ServiceAccountName, w.ServiceAccountName)...)
	p = append(p, field("spec.interval", g.Interval.Duration, w.Interval.Duration)...)
	return append(p, field("spec.suspend", g.Suspend, false)...)
}

func refBranch(ref *sourcev1.GitRepositoryRef) string {
	if ref == nil {
		return ""
	}
	return ref.Branch
}

func refCommit(ref *sourcev1.GitRepositoryRef) string {
	if ref == nil {
		return ""
	}
	return ref.Commit
}

func secretRefName(g sourcev1.GitRepositorySpec) string {
	if g.SecretRef == nil {
		return ""
	}
	return g.SecretRef.Name
}
