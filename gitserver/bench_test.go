package gitserver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/memfs"
	gogit "github.com/go-git/go-git/v5"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/onramp/onramp"
)

// benchFiles is a rendered project of about 20 manifests of 1 KiB each.
func benchFiles() onramp.Files {
	files := onramp.Files{"README.md": []byte("# bench\n")}
	for _, env := range []string{"development", "staging", "production"} {
		for _, name := range []string{"kustomization", "patch", "configmap", "ingress", "hpa"} {
			files["deploy/overlays/"+env+"/"+name+".yaml"] = []byte(strings.Repeat("key: "+env+"-"+name+"\n", 40))
		}
	}
	for _, name := range []string{"kustomization", "deployment", "service", "serviceaccount"} {
		files["deploy/base/"+name+".yaml"] = []byte(strings.Repeat("kind: "+name+"\n", 60))
	}
	return files
}

// BenchmarkCreateRepository measures a new project's create_repository.
func BenchmarkCreateRepository(b *testing.B) {
	e := newEnv(b)
	for i := 0; b.Loop(); i++ {
		if _, err := e.provider.CreateRepository(context.Background(), fmt.Sprintf("r%d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCommit(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if _, err := e.provider.CreateRepository(ctx, "p"); err != nil {
		b.Fatal(err)
	}
	files := benchFiles()
	b.Logf("%d files", len(files))
	repos := 0
	b.Run("first commit", func(b *testing.B) { // a new project's push_commit
		for b.Loop() {
			repos++
			name := fmt.Sprintf("first-%d", repos)
			b.StopTimer()
			if _, err := e.provider.CreateRepository(ctx, name); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := e.provider.Commit(ctx, name, files, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new commit", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			files["deploy/base/version.txt"] = fmt.Appendf(nil, "%d\n", i)
			if _, err := e.provider.Commit(ctx, "p", files, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.provider.Commit(ctx, "p", files, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkClone(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	e.createAndCommit(b, "p", benchFiles())
	auth := &githttp.BasicAuth{Username: "p-reader", Password: "read-secret"}
	b.Run("go-git", func(b *testing.B) {
		for b.Loop() {
			_, err := gogit.CloneContext(ctx, memory.NewStorage(), memfs.New(), &gogit.CloneOptions{URL: e.url + "/git/p.git", Auth: auth})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-git depth 1", func(b *testing.B) {
		for b.Loop() {
			_, err := gogit.CloneContext(ctx, memory.NewStorage(), memfs.New(), &gogit.CloneOptions{URL: e.url + "/git/p.git", Auth: auth, Depth: 1, SingleBranch: true})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("git CLI", func(b *testing.B) {
		dir := b.TempDir()
		for i := 0; b.Loop(); i++ {
			mustGit(b, dir, "clone", "-q", e.repoURL("p-reader", "p"), filepath.Join(dir, fmt.Sprint(i)))
		}
	})
}
