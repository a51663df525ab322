package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/internal/testutil"
	"github.com/onramp/onramp/kube"
	"github.com/onramp/onramp/localcluster/clustertest"
	"github.com/onramp/onramp/store/storetest"
)

// TestInitializeThreeEnvironments checks that at the first moment the
// project reports 100%, the cluster and the database already hold every
// object; then Flux makes every environment ready at the pushed revision;
// then delete removes it all.
func TestInitializeThreeEnvironments(t *testing.T) {
	for _, engine := range storetest.Engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := startCluster(t, engine)
			tok := s.token(t, "alice")
			kc := kubeClient(t)
			name := uniqueName("shop")
			if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
				t.Fatalf("create = %d", code)
			}
			var p *onramp.Project
			last := 0
			waitUntil(t, 60*time.Second, "100%", func() bool {
				p, _ = getProject(t, s, tok, name)
				if p.Progress < last {
					t.Fatalf("progress went backwards: %d after %d", p.Progress, last)
				}
				last = p.Progress
				if p.Phase == onramp.PhaseFailed {
					t.Fatalf("project failed: %+v\n%s", p.Steps, logText(t, s, tok, name))
				}
				return p.Progress == 100
			})
			// The very moment 100% is visible, everything exists.
			objs := clusterObjects(t, kc, name)
			for _, kind := range []string{onramp.KindNamespace, onramp.KindSecret, onramp.KindServiceAccount, onramp.KindRoleBinding, onramp.KindGitRepository, onramp.KindKustomization} {
				if len(objs[kind]) != 3 {
					t.Errorf("%d %s objects at 100%%; want 3", len(objs[kind]), kind)
				}
			}
			for _, ks := range objs[onramp.KindKustomization] {
				env := ks.GetLabels()[kube.LabelEnvironment]
				if ks.GetName() != name || ks.GetNamespace() != name+"-"+env {
					t.Errorf("Kustomization %s/%s; want %s/%s-%s", ks.GetNamespace(), ks.GetName(), name, name, env)
				}
			}
			if p.GitOps.Namespaces != 3 || p.GitOps.GitRepositories != 3 || p.GitOps.Kustomizations != 3 || len(p.GitOps.Resources) != 18 {
				t.Errorf("recorded gitops at 100%% = %d/%d/%d (%d resources); want 3/3/3 (18)", p.GitOps.Namespaces, p.GitOps.GitRepositories, p.GitOps.Kustomizations, len(p.GitOps.Resources))
			}
			if !strings.Contains(logText(t, s, tok, name), "3 namespaces, 3 git repositories, 3 kustomizations") {
				t.Errorf("log does not name the counts:\n%s", logText(t, s, tok, name))
			}
			// The repository holds the rendered commit: clone it with git.
			clone := filepath.Join(t.TempDir(), "clone")
			url := strings.Replace(p.Repository.URL, "http://", "http://alice:"+tok+"@", 1)
			gitClone := exec.Command("git", "clone", "-q", url, clone)
			gitClone.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
			if out, err := gitClone.CombinedOutput(); err != nil {
				t.Fatalf("git clone: %v\n%s", err, out)
			}
			head, _ := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
			if want := strings.TrimPrefix(p.Repository.Revision, "main@sha1:"); strings.TrimSpace(string(head)) != want {
				t.Errorf("cloned HEAD %s; want %s", head, want)
			}
			if _, err := os.Stat(filepath.Join(clone, "deploy/overlays/production/kustomization.yaml")); err != nil {
				t.Errorf("rendered overlay missing from the commit: %v", err)
			}

			// Then Flux: every Kustomization Ready at the pushed revision. The
			// phase is read before the cluster each time: once onramp says
			// ready, the cluster must already agree.
			defer func() {
				if t.Failed() {
					b, _ := json.MarshalIndent(p, "", "  ")
					t.Logf("project when the test failed:\n%s", b)
				}
			}()
			waitUntil(t, 90*time.Second, "phase ready", func() bool {
				p, _ = getProject(t, s, tok, name)
				if p.Phase != onramp.PhaseReady {
					return false
				}
				for _, ks := range objs[onramp.KindKustomization] {
					var live kustomizev1.Kustomization
					kc.Get(context.Background(), client.ObjectKeyFromObject(ks), &live)
					if !fluxReady(&live, p.Repository.Revision) {
						t.Fatalf("onramp says ready but %s is not Ready at %s: %+v", ks.GetNamespace(), p.Repository.Revision, live.Status)
					}
				}
				return true
			})
			for _, ks := range objs[onramp.KindKustomization] {
				var live kustomizev1.Kustomization
				kc.Get(context.Background(), client.ObjectKeyFromObject(ks), &live)
				if live.Status.LastAppliedRevision != p.Repository.Revision {
					t.Errorf("%s lastAppliedRevision = %q; want %q (ready too early?)", ks.GetNamespace(), live.Status.LastAppliedRevision, p.Repository.Revision)
				}
				var dep appsv1.Deployment
				var cms corev1.ConfigMapList
				if err := kc.Get(context.Background(), client.ObjectKey{Namespace: ks.GetNamespace(), Name: name}, &dep); err != nil {
					t.Errorf("template's Deployment in %s: %v", ks.GetNamespace(), err)
				}
				if err := kc.List(context.Background(), &cms, client.InNamespace(ks.GetNamespace())); err != nil || !hasPrefix(cms.Items, name+"-config") {
					t.Errorf("template's ConfigMap %s-config-* not in %s (%d ConfigMaps, %v)", name, ks.GetNamespace(), len(cms.Items), err)
				}
			}
			for _, e := range p.Environments {
				if e.Status != onramp.StatusReady {
					t.Errorf("environment %s status %s; want ready", e.Name, e.Status)
				}
			}

			deleteAndCheckGone(t, s, tok, name)
		})
	}
}

// deleteAndCheckGone deletes a project and checks that nothing of it is
// left in the cluster, on disk or in the database, and that its event
// stream counted down with the cluster: environments deleting from the
// request on, and every object's record removed as the deletion saw it
// gone, Kustomizations first and Namespaces last.
func deleteAndCheckGone(t *testing.T, s *server, tok, name string) {
	t.Helper()
	events, code := openStream(t, s, tok, name, -1)
	if code != 200 {
		t.Fatalf("event stream of %s = %d", name, code)
	}
	var p onramp.Project
	if code := call(t, "DELETE", s.url+"/api/v1/projects/"+name, tok, nil, &p); code != 202 {
		t.Fatalf("delete = %d", code)
	}
	for _, e := range p.Environments {
		if e.Status != onramp.StatusDeleting {
			t.Errorf("environment %s in the delete answer: %s; want deleting", e.Name, e.Status)
		}
	}
	checkCountedDown(t, events)
	waitUntil(t, 3*time.Minute, "project gone", func() bool {
		_, code := getProject(t, s, tok, name)
		return code == 404
	})
	k, err := kube.New(clustertest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	left, err := k.Remaining(context.Background(), name)
	if err != nil || len(left) > 0 {
		t.Errorf("left in the cluster after delete: %v %v", left, err)
	}
	filepath.WalkDir(filepath.Join(s.app.Config.DataDir, "git"), func(path string, de fs.DirEntry, err error) error {
		if err == nil && strings.Contains(de.Name(), name+".") { // <name>.git, .locks/<name>.lock, .init-<name>.*
			t.Errorf("left on disk after delete: %s", path)
		}
		return err
	})
	var rows int
	s.app.DB.SQL().QueryRow(`SELECT count(*) FROM projects WHERE name = '` + name + `'`).Scan(&rows)
	if rows != 0 {
		t.Errorf("%d project rows left", rows)
	}
}

func TestPreflightRefusesAndCreatesNothing(t *testing.T) {
	tests := []struct {
		name     string
		params   map[string]any
		wantMsgs []string
	}{
		{"overlay base that does not exist", map[string]any{"base": "../../missing"}, []string{`environment "development"`, "./deploy/overlays/development"}},
		{"manifest in another namespace", map[string]any{"namespace": "kube-system"}, []string{"kube-system", "settings"}},
	}
	s := startCluster(t, storetest.Engines()[0], "--templates-dir", "testdata/templates")
	tok := s.token(t, "alice")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := uniqueName("pre")
			body := threeEnvs(name, "param-base")
			body["params"] = tt.params
			if code := call(t, "POST", s.url+"/api/v1/projects", tok, body, nil); code != 202 {
				t.Fatalf("create = %d", code)
			}
			var p *onramp.Project
			waitUntil(t, 30*time.Second, "failed", func() bool {
				p, _ = getProject(t, s, tok, name)
				return p.Phase == onramp.PhaseFailed
			})
			step := p.Steps[0]
			if step.Name != "render_template" || step.Status != onramp.StepFailed || p.Progress > 10 || step.Hint == "" {
				t.Errorf("failed at %s (%s) %d%% hint %q; want render_template, ≤10%%, a hint", step.Name, step.Status, p.Progress, step.Hint)
			}
			for _, want := range tt.wantMsgs {
				if !strings.Contains(step.Error, want) {
					t.Errorf("error %q does not name %q", step.Error, want)
				}
			}
			if len(clusterObjects(t, kubeClient(t), name)[onramp.KindNamespace]) != 0 || p.Repository.URL != "" {
				t.Errorf("preflight failure created something: repository %q", p.Repository.URL)
			}
			if _, err := os.Stat(filepath.Join(s.app.Config.DataDir, "git", name+".git")); !os.IsNotExist(err) {
				t.Errorf("repository created on disk despite preflight failure")
			}
			deleteAndCheckGone(t, s, tok, name)
		})
	}
}

func TestDeleteDuringInitialization(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	name := uniqueName("mid")
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	waitUntil(t, 30*time.Second, "initialization started", func() bool {
		p, _ := getProject(t, s, tok, name)
		return p.Progress > 0
	})
	deleteAndCheckGone(t, s, tok, name)
}

func TestTwentyConcurrentProjects(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	kc := kubeClient(t)
	names := make([]string, 20)
	var wg sync.WaitGroup
	for i := range names {
		names[i] = uniqueName("many")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(names[i], "web-service"), nil); code != 202 {
				t.Errorf("create %s = %d", names[i], code)
			}
		}()
	}
	wg.Wait()
	for _, name := range names {
		waitUntil(t, 3*time.Minute, name+" at 100%", func() bool {
			p, _ := getProject(t, s, tok, name)
			if p.Phase == onramp.PhaseFailed {
				t.Fatalf("%s failed: %+v", name, p.Steps)
			}
			return p.Progress == 100
		})
		objs := clusterObjects(t, kc, name)
		total := 0
		for _, o := range objs {
			total += len(o)
		}
		if total != 18 {
			t.Errorf("%s has %d objects; want 18", name, total)
		}
	}
}

func hasPrefix(cms []corev1.ConfigMap, prefix string) bool {
	for _, cm := range cms {
		if strings.HasPrefix(cm.Name, prefix) {
			return true
		}
	}
	return false
}

// fluxReady is Flux's own definition: Ready=True for the current generation
// at the expected revision.
func fluxReady(k *kustomizev1.Kustomization, revision string) bool {
	for _, c := range k.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True" && c.ObservedGeneration == k.Generation && k.Status.LastAppliedRevision == revision
		}
	}
	return false
}

// TestGitFailureAppliesNothing: the cluster's objects are applied only once
// the rendered commit is pushed, so while the repository cannot be made or
// written nothing is applied, and progress stays before the Git steps; a
// failed push is logged as an attempt, and the next attempt converges once
// the repository can be written. The Git server is held up by its
// repository lock, taken here as another process would, then fails on a
// file where the repository goes.
func TestGitFailureAppliesNothing(t *testing.T) {
	s := startCluster(t, storetest.Engines()[0])
	tok := s.token(t, "alice")
	kc := kubeClient(t)
	name := uniqueName("gitfail")
	gitRoot := filepath.Join(s.app.Config.DataDir, "git")
	if err := os.MkdirAll(filepath.Join(gitRoot, ".locks"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(gitRoot, ".locks", name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", s.url+"/api/v1/projects", tok, threeEnvs(name, "web-service"), nil); code != 202 {
		t.Fatalf("create = %d", code)
	}
	progressBefore := func(step string) int {
		base := 0
		for _, st := range onramp.InitSteps {
			if st.Name == step {
				return base
			}
			base += st.Weight
		}
		t.Fatalf("no step %s", step)
		return 0
	}
	nothingApplied := func(when string) {
		t.Helper()
		if objs := clusterObjects(t, kc, name); len(objs) != 0 {
			t.Errorf("%s: %d kinds of objects in the cluster; want none", when, len(objs))
		}
	}
	waitUntil(t, time.Minute, "create_repository running", func() bool {
		p, _ := getProject(t, s, tok, name)
		return len(p.Steps) > 1 && p.Steps[1].Status == onramp.StepRunning
	})
	time.Sleep(200 * time.Millisecond) // long enough for an apply that should not happen
	nothingApplied("while the repository is being made")
	if p, _ := getProject(t, s, tok, name); p.Progress > progressBefore("create_repository") {
		t.Errorf("while the repository is being made: %d%%; want at most %d%%", p.Progress, progressBefore("create_repository"))
	}

	// A file where the repository goes passes for an existing repository
	// until the commit tries to write into it.
	blocker := filepath.Join(gitRoot, name+".git")
	if err := os.WriteFile(blocker, []byte("not a repository"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	var p *onramp.Project
	waitUntil(t, time.Minute, "a failed push_commit attempt", func() bool {
		p, _ = getProject(t, s, tok, name)
		return strings.Contains(logText(t, s, tok, name), "attempt 1 of")
	})
	if p.Progress > progressBefore("push_commit") || p.Phase != onramp.PhaseInitializing || len(p.GitOps.Resources) != 0 {
		t.Errorf("after a failed push: %d%% %s, %d records; want initializing at most %d%%, none recorded",
			p.Progress, p.Phase, len(p.GitOps.Resources), progressBefore("push_commit"))
	}
	nothingApplied("after a failed push")
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	last := p.Progress
	waitUntil(t, 2*time.Minute, "100% once the repository can be written", func() bool {
		p, _ = getProject(t, s, tok, name)
		if p.Progress < last {
			t.Fatalf("progress went backwards: %d after %d", p.Progress, last)
		}
		last = p.Progress
		return p.Progress == 100
	})
	for kind, list := range clusterObjects(t, kc, name) {
		if len(list) != 3 {
			t.Errorf("%d %s objects at 100%%; want 3", len(list), kind)
		}
	}
	if n := len(p.GitOps.Resources); n != 18 {
		t.Errorf("%d recorded resources; want 18", n)
	}
	deleteAndCheckGone(t, s, tok, name)
}

// checkCountedDown reads a deleted project's event stream to its end and
// checks that each object it ever showed ended as a "deleted" resource
// event, Kustomizations before Namespaces. The stream ends when the
// project's rows are gone, and a read that comes after that misses what
// was written since the one before: the Namespaces' records, removed
// moments before the repository and the rows, are required only once the
// stream has shown delete_repository, which comes after them.
func checkCountedDown(t *testing.T, events <-chan testutil.Event) {
	t.Helper()
	last := map[string]onramp.ResourceStatus{}
	var order []string // kinds, in the order their records were removed
	sawRepositoryStep := false
	timeout := time.After(3 * time.Minute)
	for {
		var e testutil.Event
		var ok bool
		select {
		case e, ok = <-events:
		case <-timeout:
			t.Fatal("the event stream did not end within 3 minutes of the delete")
		}
		if !ok {
			break
		}
		var rs []onramp.Resource
		switch e.Type {
		case onramp.EventSnapshot:
			var p onramp.Project
			json.Unmarshal([]byte(e.Data), &p)
			rs = p.GitOps.Resources
		case onramp.EventResource:
			var r onramp.Resource
			json.Unmarshal([]byte(e.Data), &r)
			rs = []onramp.Resource{r}
		case onramp.EventStep:
			var st onramp.Step
			json.Unmarshal([]byte(e.Data), &st)
			sawRepositoryStep = sawRepositoryStep || st.Name == "delete_repository"
		}
		for _, r := range rs {
			last[r.Kind+" "+r.Namespace+"/"+r.Name] = r.Status
			if r.Status == onramp.StatusDeleted {
				order = append(order, r.Kind)
			}
		}
	}
	for key, status := range last {
		if status != onramp.StatusDeleted && (sawRepositoryStep || !strings.HasPrefix(key, onramp.KindNamespace+" ")) {
			t.Errorf("%s: last shown %s; want deleted", key, status)
		}
	}
	if k, n := slices.Index(order, onramp.KindKustomization), slices.Index(order, onramp.KindNamespace); n >= 0 && k > n {
		t.Errorf("records removed in the order %v; want Kustomizations before Namespaces", order)
	}
}
