package gitprovider_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/onramp/onramp/gitprovider"
	"github.com/onramp/onramp/localgitea/giteatest"
)

// BenchmarkGiteaProvision makes what a project needs on a real Gitea, one
// step after another as the pipeline will, and reports each step's time:
// the provider's share of a create.
func BenchmarkGiteaProvision(b *testing.B) {
	g := giteatest.Gitea(b)
	p, err := gitprovider.New(gitprovider.Connection{Kind: gitprovider.KindGitea, URL: g.URL, Owner: g.Admin.User, Token: g.Admin.Token})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	steps := []string{"repository", "push", "deploy-key", "webhook"}
	took := make([]time.Duration, len(steps))
	var names []string
	for range b.N {
		name := "bench-" + randomSuffix()
		names = append(names, name)
		t0 := time.Now()
		repo, err := p.EnsureRepository(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := p.Push(ctx, repo, files, "Render"); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := p.EnsureDeployCredential(ctx, repo, nil); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := p.EnsureWebhook(ctx, repo, "http://127.0.0.1:9/hooks/"+name, "secret"); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		for j, d := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3)} {
			took[j] += d
		}
	}
	b.StopTimer()
	took = append(took, gitCLIPushes(b, p, b.N, &names))
	steps = append(steps, "git-cli-push")
	for j, s := range steps {
		b.ReportMetric(float64(took[j].Milliseconds())/float64(b.N), s+"-ms/op")
	}
	admin, _ := gitea.NewClient(g.URL, gitea.SetToken(g.Admin.Token), gitea.SetGiteaVersion(""))
	for _, n := range names {
		admin.DeleteRepo(g.Admin.User, n)
	}
}

// gitCLIPushes pushes files n times with the git command to new
// repositories, for comparison with Push: the same first push, made by git.
func gitCLIPushes(b *testing.B, p gitprovider.Provider, n int, names *[]string) time.Duration {
	g := giteatest.Gitea(b)
	dir := b.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@localhost", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@localhost")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", args[0], err, out)
		}
	}
	run("init", "-q", "-b", "main")
	for path, content := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755)
		os.WriteFile(filepath.Join(dir, path), content, 0o644)
	}
	run("add", ".")
	run("commit", "-qm", "Render")
	var took time.Duration
	for range n {
		name := "bench-git-" + randomSuffix()
		*names = append(*names, name)
		repo, err := p.EnsureRepository(context.Background(), name)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		run("-c", "http.extraHeader=Authorization: token "+g.Admin.Token, "push", "-q", repo.CloneURL, "main")
		took += time.Since(t0)
	}
	return took
}
