package localcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubeLDFlags pins the linker flags: they must match the prebuild's flags
// byte for byte for Build to reuse its link inputs, and without the version
// kube-apiserver calls itself v0.0.0-master.
func TestKubeLDFlags(t *testing.T) {
	tests := []struct {
		name    string
		version string
		want    string
		wantErr bool
	}{
		{name: "release", version: "v1.36.3", want: "-s -w -X k8s.io/component-base/version.gitVersion=v1.36.3 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36 -X k8s.io/component-base/version.gitTreeState=clean"},
		{name: "no minor", version: "v1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kubeLDFlags(tt.version)
			if (err != nil) != tt.wantErr {
				t.Fatalf("kubeLDFlags(%q) err = %v; want error %v", tt.version, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("kubeLDFlags(%q) = %q; want %q", tt.version, got, tt.want)
			}
		})
	}
}

// TestCacheKey checks that the cache key follows the tools modules' go.sum
// and nothing else in the folder.
func TestCacheKey(t *testing.T) {
	tools := fakeToolsDir(t)
	ctx := context.Background()
	key := func() string {
		t.Helper()
		k, err := cacheKey(ctx, tools)
		if err != nil {
			t.Fatalf("cacheKey: %v", err)
		}
		return k
	}
	first := key()
	if again := key(); again != first {
		t.Errorf("cacheKey twice = %q, %q; want equal", first, again)
	}
	if err := os.WriteFile(filepath.Join(tools, "flux", "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if other := key(); other != first {
		t.Errorf("cacheKey after adding an unrelated file = %q; want %q", other, first)
	}
	if err := os.WriteFile(filepath.Join(tools, "flux", "go.sum"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed := key(); changed == first {
		t.Errorf("cacheKey after changing flux/go.sum = %q; want a new key", changed)
	}
}

// TestLookupMissing checks that Lookup on an empty cache names what is
// missing and how to build it.
func TestLookupMissing(t *testing.T) {
	_, err := Lookup(context.Background(), BuildOptions{ToolsDir: fakeToolsDir(t), CacheDir: t.TempDir()})
	if !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Lookup on an empty cache: err = %v; want ErrNotBuilt", err)
	}
	for _, want := range []string{Etcd, KubeAPIServer, KustomizeController, "crds", "make localcluster"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup error %q does not mention %q", err, want)
		}
	}
}

// TestBuildSkipsExisting checks that Build reuses binaries and CRDs already
// in the cache instead of running go build.
func TestBuildSkipsExisting(t *testing.T) {
	ctx := context.Background()
	opts := BuildOptions{ToolsDir: fakeToolsDir(t), CacheDir: t.TempDir()}
	_, binDir, err := resolve(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(componentNames(), filepath.Join(crdDirName, "x.yaml")) {
		path := filepath.Join(binDir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/false\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var progress strings.Builder
	opts.Progress = &progress
	got, err := Build(ctx, opts)
	if err != nil {
		t.Fatalf("Build with everything cached: %v", err)
	}
	if got != binDir {
		t.Errorf("Build = %q; want %q", got, binDir)
	}
	if strings.Contains(progress.String(), "building") {
		t.Errorf("Build rebuilt a cached binary; progress:\n%s", progress.String())
	}
	if looked, err := Lookup(ctx, opts); err != nil || looked != binDir {
		t.Errorf("Lookup = %q, %v; want %q, nil", looked, err, binDir)
	}
}

// fakeToolsDir copies the go.mod and go.sum files of the real tools modules
// into a temporary folder, so tests can change them.
func fakeToolsDir(t *testing.T) string {
	t.Helper()
	real, err := FindToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, m := range toolModules() {
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(real, m, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, m), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, m, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestNewestBinDir checks the fallback Lookup uses outside a checkout: the
// newest complete bin dir, never an incomplete one.
func TestNewestBinDir(t *testing.T) {
	cache := t.TempDir()
	if _, err := newestBinDir(cache); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("newestBinDir(empty cache) err = %v; want ErrNotBuilt", err)
	}
	complete := filepath.Join(cache, "complete")
	for _, name := range append(componentNames(), filepath.Join(crdDirName, "x.yaml")) {
		path := filepath.Join(complete, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(cache, "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := newestBinDir(cache)
	if err != nil || got != complete {
		t.Errorf("newestBinDir = %q, %v; want %q, nil", got, err, complete)
	}
}
