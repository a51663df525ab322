package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/pipeline"
	"github.com/onramp/onramp/store/storetest"
	"github.com/onramp/onramp/templates"
)

// crashAt returns the hook that makes a worker process kill itself with
// SIGKILL at point (see pipeline.Deps.Checkpoint): a real, abrupt death,
// with no deferred cleanup. It returns nil for no point.
func crashAt(point string) func(*pipeline.Deps) {
	if point == "" {
		return nil
	}
	return func(d *pipeline.Deps) {
		d.Checkpoint = func(p string) {
			if p == point {
				d.Logger.Warn("crash point reached: killing this process", "point", p)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
}

// A worker process killed at each step boundary, and in the middle of
// setup_gitops, is followed by another that converges: one repository,
// one commit, one of each object, one row per object, and progress that
// never went backwards.
func TestCrashAndResume(t *testing.T) {
	points := []string{"render_template", "create_repository", "push_commit", "setup_gitops:1", "setup_gitops:8", "setup_gitops", "verify", "finalize"}
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			url, dataDir := storetest.URL(t, "sqlite"), t.TempDir()
			db := storetest.OpenURL(t, url)
			ctx := context.Background()
			name := uniqueName("crash")
			tm, _ := tmpl.FindTemplate("web-service")
			p, err := onramp.NewProject(threeEnvCreate(name), tm)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateProject(ctx, "alice", p); err != nil {
				t.Fatal(err)
			}
			env := []string{"KUBECONFIG=" + clusterKubeconfig(t), "ONRAMP_GIT_URL=http://127.0.0.1:9/git"}
			args := []string{"worker", "--data-dir", dataDir, "--database-url", url, "--job-timeout", "10s", "--log-level", "info"}
			crashing := subprocess(t, append(env, "ONRAMP_CRASH_AT="+point), args...)
			if err := crashing.Run(); !killed(err) {
				t.Fatalf("worker with crash point %s: %v; want killed by SIGKILL", point, err)
			}
			before, _ := db.ProjectByID(ctx, p.ID)
			if before.Progress == 100 && point != "finalize" {
				t.Errorf("progress 100%% before the crash at %s", point)
			}
			survivor := subprocess(t, env, args...)
			if err := survivor.Start(); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 2*time.Minute, "100% after the crash", func() bool {
				cur, _ := db.ProjectByID(ctx, p.ID)
				return cur.Progress == 100 && cur.Phase != onramp.PhaseInitializing
			})
			final, _ := db.ProjectByID(ctx, p.ID)
			if final.Phase == onramp.PhaseFailed {
				t.Fatalf("failed after resume: %+v", final.Steps)
			}
			for kind, objs := range clusterObjects(t, kubeClient(t), name) {
				if len(objs) != 3 {
					t.Errorf("%d %s objects; want 3", len(objs), kind)
				}
			}
			if n := len(final.GitOps.Resources); n != 18 {
				t.Errorf("%d recorded resources; want 18", n)
			}
			out, err := exec.Command("git", "--git-dir", filepath.Join(dataDir, "git", name+".git"), "rev-list", "--count", "main").CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "1" {
				t.Errorf("commits in the repository: %s %v; want exactly 1", out, err)
			}
			events, _ := db.Events(ctx, p.ID, 0, 1000)
			last := 0
			for _, e := range events {
				if e.Type != onramp.EventProgress {
					continue
				}
				var d struct{ Progress int }
				json.Unmarshal(e.Data, &d)
				if d.Progress < last {
					t.Errorf("progress went backwards: %d after %d", d.Progress, last)
				}
				last = d.Progress
			}
		})
	}
}

func threeEnvCreate(name string) onramp.ProjectCreate {
	c := onramp.ProjectCreate{Name: name, Template: "web-service"}
	for _, typ := range []onramp.EnvironmentType{onramp.Development, onramp.Staging, onramp.Production} {
		c.Environments = append(c.Environments, onramp.EnvironmentSpec{Name: string(typ), Type: typ})
	}
	return c
}

// killed reports whether a process ended by SIGKILL.
func killed(err error) bool {
	ee, ok := err.(*exec.ExitError)
	return ok && strings.Contains(ee.Error(), "killed")
}

// A worker killed in the middle of a burst leaves jobs running in the
// queue; the process that starts after it sees that the dead one stopped
// beating and hands those jobs back at once, not after the job timeout
// (5 minutes here), so every project moves again within seconds.
func TestRestartResumesAtOnce(t *testing.T) {
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := tmpl.FindTemplate("web-service")
	url, dataDir := storetest.URL(t, "sqlite"), t.TempDir()
	db := storetest.OpenURL(t, url)
	ctx := context.Background()
	var ids []int64
	for range 4 {
		p, err := onramp.NewProject(threeEnvCreate(uniqueName("burst")), tm)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateProject(ctx, "alice", p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	env := []string{"KUBECONFIG=" + clusterKubeconfig(t), "ONRAMP_GIT_URL=http://127.0.0.1:9/git"}
	args := []string{"worker", "--data-dir", dataDir, "--database-url", url, "--log-level", "info"}
	crashing := subprocess(t, append(env, "ONRAMP_CRASH_AT=setup_gitops:2"), args...)
	if err := crashing.Run(); !killed(err) {
		t.Fatalf("worker with a crash point: %v; want killed by SIGKILL", err)
	}
	atHundred := func() int {
		n := 0
		for _, id := range ids {
			if p, err := db.ProjectByID(ctx, id); err == nil && p.Progress == 100 {
				n++
			}
		}
		return n
	}
	if n := atHundred(); n == len(ids) {
		t.Fatal("every project at 100% before the crash; the test needs a burst cut short")
	}
	restarted := time.Now()
	survivor := subprocess(t, env, args...)
	if err := survivor.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "every project at 100% after the restart", func() bool { return atHundred() == len(ids) })
	t.Logf("every project at 100%% %s after the restart (job timeout 5m)", time.Since(restarted).Round(100*time.Millisecond))
}
