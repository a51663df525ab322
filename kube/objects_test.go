package kube

import (
	"errors"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/onramp/onramp"
)

const testPassword = "s3cret-never-logged"

func testSpec(project string) EnvironmentSpec {
	return EnvironmentSpec{
		Project:     project,
		Environment: "development",
		Type:        onramp.Development,
		Path:        "./deploy/overlays/development",
		GitURL:      "http://127.0.0.1:9/" + project + ".git",
		Username:    "flux",
		Password:    testPassword,
		Revision:    rev,
	}
}

func TestObjects(t *testing.T) {
	spec := testSpec("shop")
	objs := Objects(spec)
	want := []struct{ kind, namespace, name string }{
		{onramp.KindNamespace, "", "shop-development"},
		{onramp.KindServiceAccount, "shop-development", "shop-flux"},
		{onramp.KindRoleBinding, "shop-development", "shop-flux"},
		{onramp.KindSecret, "shop-development", "shop-git"},
		{onramp.KindGitRepository, "shop-development", "shop"},
		{onramp.KindKustomization, "shop-development", "shop"},
	}
	if len(objs) != len(want) {
		t.Fatalf("Objects() = %d objects; want %d", len(objs), len(want))
	}
	for i, w := range want {
		o := objs[i]
		if kindOf(o) != w.kind || o.GetNamespace() != w.namespace || o.GetName() != w.name {
			t.Errorf("Objects()[%d] = %s %s/%s; want %s %s/%s", i, kindOf(o), o.GetNamespace(), o.GetName(), w.kind, w.namespace, w.name)
		}
		if o.GetObjectKind().GroupVersionKind().Kind != w.kind {
			t.Errorf("Objects()[%d] TypeMeta kind = %q; want %q", i, o.GetObjectKind().GroupVersionKind().Kind, w.kind)
		}
		l := o.GetLabels()
		if l[LabelManagedBy] != "onramp" || l[LabelProject] != "shop" || l[LabelEnvironment] != "development" {
			t.Errorf("Objects()[%d] %s labels = %v; want managed-by, project and environment", i, w.kind, l)
		}
	}
}

func TestRoleBinding(t *testing.T) {
	rb := RoleBinding(testSpec("shop"))
	wantRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"}
	if rb.RoleRef != wantRef {
		t.Errorf("RoleBinding().RoleRef = %+v; want %+v", rb.RoleRef, wantRef)
	}
	wantSub := rbacv1.Subject{Kind: "ServiceAccount", Name: "shop-flux", Namespace: "shop-development"}
	if len(rb.Subjects) != 1 || rb.Subjects[0] != wantSub {
		t.Errorf("RoleBinding().Subjects = %+v; want [%+v]", rb.Subjects, wantSub)
	}
}

func TestSecret(t *testing.T) {
	s := Secret(testSpec("shop"))
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret().Type = %q; want Opaque", s.Type)
	}
	if string(s.Data["username"]) != "flux" || string(s.Data["password"]) != testPassword || len(s.Data) != 2 {
		t.Errorf("Secret().Data has keys %d, username %q; want username and password", len(s.Data), s.Data["username"])
	}
}

func TestGitRepository(t *testing.T) {
	g := GitRepository(testSpec("shop"))
	if g.APIVersion != "source.toolkit.fluxcd.io/v1" {
		t.Errorf("GitRepository().APIVersion = %q", g.APIVersion)
	}
	if g.Spec.URL != "http://127.0.0.1:9/shop.git" || g.Spec.Reference == nil || g.Spec.Reference.Branch != "main" {
		t.Errorf("GitRepository() url %q ref %+v; want the spec's URL, branch main", g.Spec.URL, g.Spec.Reference)
	}
	if g.Spec.SecretRef == nil || g.Spec.SecretRef.Name != "shop-git" {
		t.Errorf("GitRepository().Spec.SecretRef = %+v; want shop-git", g.Spec.SecretRef)
	}
	if g.Spec.Interval.Duration != time.Minute {
		t.Errorf("GitRepository().Spec.Interval = %s; want the development default 1m", g.Spec.Interval.Duration)
	}
	if g.Annotations[AnnotationRevision] != rev {
		t.Errorf("GitRepository() annotation %s = %q; want %q", AnnotationRevision, g.Annotations[AnnotationRevision], rev)
	}
	if g.Spec.Reference.Commit != "" {
		t.Errorf("GitRepository() of an environment that follows the branch checks out commit %q", g.Spec.Reference.Commit)
	}
	pinned := testSpec("shop")
	pinned.Pin = true
	if ref := GitRepository(pinned).Spec.Reference; ref.Branch != "main" || ref.Commit != onramp.CommitOf(rev) {
		t.Errorf("GitRepository() pinned: ref %+v; want branch main at commit %s", ref, onramp.CommitOf(rev))
	}
}

func TestKustomization(t *testing.T) {
	spec := testSpec("shop")
	spec.Interval = 90 * time.Second
	k := Kustomization(spec)
	want := kustomizev1.KustomizationSpec{
		SourceRef:          kustomizev1.CrossNamespaceSourceReference{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Name: "shop"},
		Path:               "./deploy/overlays/development",
		Prune:              true,
		TargetNamespace:    "shop-development",
		ServiceAccountName: "shop-flux",
		Interval:           metav1.Duration{Duration: 90 * time.Second},
	}
	if k.APIVersion != kustomizev1.GroupVersion.String() || k.Kind != "Kustomization" {
		t.Errorf("Kustomization() type = %s %s", k.APIVersion, k.Kind)
	}
	if d := kustomizationDiff(&kustomizev1.Kustomization{Spec: want}, k); len(d) > 0 || k.Spec.SourceRef != want.SourceRef {
		t.Errorf("Kustomization() differs from the contract: %v (sourceRef %+v)", d, k.Spec.SourceRef)
	}
	if k.Spec.RetryInterval == nil || k.Spec.RetryInterval.Duration != RetryInterval {
		t.Errorf("Kustomization().Spec.RetryInterval = %v; want %s", k.Spec.RetryInterval, RetryInterval)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*EnvironmentSpec)
		field string
	}{
		{"ok", func(*EnvironmentSpec) {}, ""},
		{"no project", func(s *EnvironmentSpec) { s.Project = "" }, "name"},
		{"bad project", func(s *EnvironmentSpec) { s.Project = "Shop" }, "name"},
		{"no environment", func(s *EnvironmentSpec) { s.Environment = "" }, "environment"},
		{"no path", func(s *EnvironmentSpec) { s.Path = "" }, "path"},
		{"no url", func(s *EnvironmentSpec) { s.GitURL = "" }, "git_url"},
		{"no password", func(s *EnvironmentSpec) { s.Password = "" }, "password"},
		{"bad type", func(s *EnvironmentSpec) { s.Type = "qa" }, "type"},
	}
	for _, tt := range tests {
		s := testSpec("shop")
		tt.edit(&s)
		err := s.Validate()
		if got := onramp.ErrorField(err); got != tt.field || (tt.field != "" && onramp.ErrorCode(err) != onramp.EINVALID) {
			t.Errorf("Validate(%s) = %v; want an EINVALID error on field %q", tt.name, err, tt.field)
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("Validate(%s) error shows the password: %v", tt.name, err)
		}
	}
}

// TestDifferencesHideSecret checks that a wrong Secret is reported by key,
// never by value.
func TestDifferencesHideSecret(t *testing.T) {
	want := Secret(testSpec("shop"))
	got := want.DeepCopy()
	got.Data["password"] = []byte("other-password")
	got.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply}}
	err := &MismatchError{Kind: "Secret", Name: objectName(want), Problems: differences(want, got)}
	msg := err.Error()
	if !strings.Contains(msg, "data[password]") {
		t.Errorf("differences(secret) = %q; want it to name data[password]", msg)
	}
	if strings.Contains(msg, testPassword) || strings.Contains(msg, "other-password") {
		t.Errorf("differences(secret) = %q; shows a password", msg)
	}
	if !isMismatch(errors.Join(errors.New("x"), err)) {
		t.Errorf("isMismatch(joined MismatchError) = false")
	}
}

// TestDifferencesNamesField checks the message of a changed GitRepository
// and a missing label, the kind Verify returns.
func TestDifferencesNamesField(t *testing.T) {
	want := GitRepository(testSpec("shop"))
	got := want.DeepCopy()
	got.Spec.URL = "http://elsewhere/shop.git"
	delete(got.Labels, LabelProject)
	p := strings.Join(differences(want, got), "; ")
	for _, s := range []string{`spec.url is "http://elsewhere/shop.git", want "http://127.0.0.1:9/shop.git"`, "label onramp.dev/project", `field manager "onramp"`} {
		if !strings.Contains(p, s) {
			t.Errorf("differences(GitRepository) = %q; want it to contain %q", p, s)
		}
	}
	if d := differences(want, want); len(d) != 1 {
		t.Errorf("differences(same, same) = %v; want only the field manager problem", d)
	}
}

func TestPlural(t *testing.T) {
	tests := []struct {
		kind string
		n    int
		want string
	}{
		{onramp.KindGitRepository, 3, "GitRepositories"},
		{onramp.KindGitRepository, 1, "GitRepository"},
		{onramp.KindKustomization, 2, "Kustomizations"},
		{onramp.KindNamespace, 0, "Namespaces"},
	}
	for _, tt := range tests {
		if got := plural(tt.kind, tt.n); got != tt.want {
			t.Errorf("plural(%q, %d) = %q; want %q", tt.kind, tt.n, got, tt.want)
		}
	}
}

// TestSecretSSH checks that a provider's SSH credential is the Secret's
// whole data, and that Verify's comparison names a missing or a stale key
// (the basic-auth password left from before) by key, never by value.
func TestSecretSSH(t *testing.T) {
	spec := testSpec("shop")
	spec.GitURL = "ssh://git@127.0.0.1:2222/platform/shop.git"
	spec.GitSecret = map[string][]byte{"identity": []byte("PRIVATE-KEY"), "identity.pub": []byte("ssh-ed25519 AAAA"), "known_hosts": []byte("[127.0.0.1]:2222 ssh-ed25519 BBBB")}
	want := Secret(spec)
	if len(want.Data) != 3 || string(want.Data["identity"]) != "PRIVATE-KEY" || want.Data["password"] != nil {
		t.Fatalf("Secret(ssh).Data keys = %d; want identity, identity.pub and known_hosts only", len(want.Data))
	}
	if err := spec.Validate(); err != nil {
		t.Errorf("Validate(ssh without username) = %v; want nil", err)
	}
	got := want.DeepCopy()
	delete(got.Data, "known_hosts")
	got.Data["password"] = []byte(testPassword)
	got.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply}}
	p := strings.Join(differences(want, got), "; ")
	for _, s := range []string{"data[known_hosts] is not the value onramp set", "data[password] is not a key onramp set"} {
		if !strings.Contains(p, s) {
			t.Errorf("differences(ssh secret) = %q; want it to contain %q", p, s)
		}
	}
	if strings.Contains(p, "PRIVATE-KEY") || strings.Contains(p, testPassword) || strings.Contains(p, "BBBB") {
		t.Errorf("differences(ssh secret) = %q; shows a secret value", p)
	}
}
