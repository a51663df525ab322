package localcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of the control plane binaries, as they appear in the bin directory.
const (
	Etcd                  = "etcd"
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	SourceController      = "source-controller"
	KustomizeController   = "kustomize-controller"
)

// crdDirName is the folder inside the bin directory that holds the Flux CRDs.
const crdDirName = "crds"

// recipe changes whenever the way binaries are built changes, so that a new
// recipe gets a new cache directory instead of reusing stale binaries.
const recipe = "localcluster-recipe-1: go build -trimpath -ldflags '-s -w' (+ kube version -X)"

// binary says how one control plane binary is built from a tools module.
type binary struct {
	name   string // file name in the bin directory
	module string // folder under tools/localcluster holding the go.mod
	pkg    string // main package to build
	kube   bool   // link Kubernetes version information
}

// binaries lists what Build produces, in build order (cheapest first, so a
// broken setup fails fast).
func binaries() []binary {
	return []binary{
		{name: Etcd, module: "etcd", pkg: "go.etcd.io/etcd/server/v3"},
		{name: KubeAPIServer, module: "kube", pkg: "k8s.io/kubernetes/cmd/kube-apiserver", kube: true},
		{name: SourceController, module: "flux", pkg: "github.com/fluxcd/source-controller"},
		{name: KustomizeController, module: "flux", pkg: "github.com/fluxcd/kustomize-controller"},
		{name: KubeControllerManager, module: "kube", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager", kube: true},
	}
}

// crdModules are the Flux controller modules whose config/crd/bases folder is
// installed into every cluster.
func crdModules() []string {
	return []string{"github.com/fluxcd/source-controller", "github.com/fluxcd/kustomize-controller"}
}

// toolModules are the folders under tools/localcluster that pin the binaries.
func toolModules() []string {
	return []string{"etcd", "kube", "flux"}
}

// kubeLDFlags returns the linker flags that give kube binaries their real
// version; without them kube-apiserver reports v0.0.0-master. The order of
// the flags matters only for reusing the Go build cache of earlier builds.
func kubeLDFlags(version string) (string, error) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return "", fmt.Errorf("parse kubernetes version %q: want vMAJOR.MINOR.PATCH", version)
	}
	const pkg = "k8s.io/component-base/version"
	return fmt.Sprintf("-s -w -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s -X %[1]s.gitTreeState=clean",
		pkg, version, parts[0], parts[1]), nil
}

// cacheKey hashes everything that decides what the binaries are: the tools
// modules' go.mod and go.sum, the Go toolchain and target, and the recipe.
func cacheKey(ctx context.Context, toolsDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, recipe)
	goEnv, err := goOutput(ctx, filepath.Join(toolsDir, "etcd"), "env", "GOVERSION", "GOOS", "GOARCH", "CGO_ENABLED")
	if err != nil {
		return "", err
	}
	fmt.Fprintln(h, goEnv)
	for _, m := range toolModules() {
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(toolsDir, m, f))
			if err != nil {
				return "", fmt.Errorf("read tools module file: %w", err)
			}
			fmt.Fprintf(h, "%s/%s %d\n", m, f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
