package kube

import (
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
)

// objectMeta is the metadata shared by the objects of an environment.
func objectMeta(s EnvironmentSpec, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: objectLabels(s)}
}

// Namespace is the environment's namespace, <project>-<environment>.
func Namespace(spec EnvironmentSpec) *corev1.Namespace {
	s := spec.withDefaults()
	return &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: objectMeta(s, s.Namespace, ""),
	}
}

// ServiceAccount is the account kustomize-controller impersonates when it
// applies the overlay, so that Flux can do no more than the project may.
func ServiceAccount(spec EnvironmentSpec) *corev1.ServiceAccount {
	s := spec.withDefaults()
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: objectMeta(s, FluxName(s.Project), s.Namespace),
	}
}

// RoleBinding grants the ServiceAccount the ClusterRole admin inside the
// environment's namespace only.
func RoleBinding(spec EnvironmentSpec) *rbacv1.RoleBinding {
	s := spec.withDefaults()
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: objectMeta(s, FluxName(s.Project), s.Namespace),
		RoleRef: rbacv1.RoleRef{
			APIGroup: rbacv1.GroupName,
			Kind:     "ClusterRole",
			Name:     AdminClusterRole,
		},
		Subjects: []rbacv1.Subject{{
			Kind:      rbacv1.ServiceAccountKind,
			Name:      FluxName(s.Project),
			Namespace: s.Namespace,
		}},
	}
}

// Secret holds the Git credential source-controller clones with: basic
// auth, or the provider's own (GitSecret).
func Secret(spec EnvironmentSpec) *corev1.Secret {
	s := spec.withDefaults()
	data := map[string][]byte{"username": []byte(s.Username), "password": []byte(s.Password)}
	if len(s.GitSecret) > 0 {
		data = s.GitSecret
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(s, SecretName(s.Project), s.Namespace),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// GitRepository is the Flux source that clones the project's branch: its
// head, or the commit of Revision when the environment is pinned to it.
func GitRepository(spec EnvironmentSpec) *sourcev1.GitRepository {
	s := spec.withDefaults()
	ref := &sourcev1.GitRepositoryRef{Branch: s.Branch}
	if s.Pin && s.Revision != "" {
		ref.Commit = onramp.CommitOf(s.Revision)
	}
	return &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: fluxMeta(s),
		Spec: sourcev1.GitRepositorySpec{
			URL:       s.GitURL,
			Reference: ref,
			SecretRef: &meta.LocalObjectReference{Name: SecretName(s.Project)},
			Interval:  metav1.Duration{Duration: s.Interval},
		},
	}
}

// Kustomization is the Flux object that applies the environment's overlay
// into its namespace, as the project's ServiceAccount, pruning what it
// applied when deleted.
func Kustomization(spec EnvironmentSpec) *kustomizev1.Kustomization {
	s := spec.withDefaults()
	return &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: fluxMeta(s),
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{
				APIVersion: sourcev1.GroupVersion.String(),
				Kind:       sourcev1.GitRepositoryKind,
				Name:       s.Project,
			},
			Path:               s.Path,
			Prune:              true,
			Wait:               false,
			TargetNamespace:    s.Namespace,
			ServiceAccountName: FluxName(s.Project),
			Interval:           metav1.Duration{Duration: s.Interval},
			// A failed reconcile is retried soon in every environment, not
			// after production's long interval: Flux has transient failures.
			RetryInterval: &metav1.Duration{Duration: min(s.Interval, RetryInterval)},
		},
	}
}

// RetryInterval is how soon Flux retries a failed Kustomization.
const RetryInterval = 30 * time.Second

// fluxMeta is the metadata of the GitRepository and the Kustomization, both
// named after the project, with the expected revision when known.
func fluxMeta(s EnvironmentSpec) metav1.ObjectMeta {
	m := objectMeta(s, s.Project, s.Namespace)
	if s.Revision != "" {
		m.Annotations = map[string]string{AnnotationRevision: s.Revision}
	}
	return m
}

// Objects are the six objects of an environment, in the order they are
// applied: each one's dependencies come before it.
func Objects(spec EnvironmentSpec) []client.Object {
	return []client.Object{
		Namespace(spec),
		ServiceAccount(spec),
		RoleBinding(spec),
		Secret(spec),
		GitRepository(spec),
		Kustomization(spec),
	}
}

// requestReconcile sets the annotation that makes Flux reconcile the object
// at once instead of at its next interval.
func requestReconcile(obj client.Object, at string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationReconcileRequest] = at
	obj.SetAnnotations(a)
}
