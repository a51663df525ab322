// Package deploy holds onramp's own manifests for a cluster: the Helm chart
// in chart/onramp and the plain RBAC file rbac.yaml. Render turns the chart
// into objects with the Helm SDK, as `helm template` does, so that tests can
// apply exactly what `helm install` would.
package deploy

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// chartDir is where the chart lives in this folder.
const chartDir = "chart/onramp"

// files embeds the chart (all: keeps _helpers.tpl and .helmignore) and
// rbac.yaml, so that rendering does not depend on the working directory.
//
//go:embed all:chart/onramp rbac.yaml
var files embed.FS

// RBACManifest returns deploy/rbac.yaml: onramp's ServiceAccount and
// ClusterRole for those who install without Helm.
func RBACManifest() []byte {
	b, err := files.ReadFile("rbac.yaml")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Chart loads the embedded chart.
func Chart() (*chart.Chart, error) {
	var bufs []*archive.BufferedFile
	err := fs.WalkDir(files, chartDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		bufs = append(bufs, &archive.BufferedFile{Name: strings.TrimPrefix(path, chartDir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(bufs)
	if err != nil {
		return nil, fmt.Errorf("load the chart: %w", err)
	}
	return c, nil
}

// Release is one install of the chart: what `helm install NAME --namespace
// NAMESPACE --values …` is given.
type Release struct {
	Name      string
	Namespace string
	Values    map[string]any
	// KubeVersion is the cluster version the chart is rendered for, as
	// `helm template --kube-version` takes it; empty means DefaultKubeVersion.
	KubeVersion string
	// SkipSchemaValidation renders without values.schema.json, as
	// --skip-schema-validation does; the templates still refuse what cannot work.
	SkipSchemaValidation bool
}

// DefaultKubeVersion is the Kubernetes version rendering assumes: the one
// of the local control plane (k8s.io modules v0.36).
const DefaultKubeVersion = "v1.36.0"

// Rendered is what the chart renders for a release.
type Rendered struct {
	Objects []*unstructured.Unstructured // in Helm's install order
	Notes   string                       // NOTES.txt
}

// identityKinds are the kinds of the objects that make up onramp's identity
// in the cluster.
var identityKinds = []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

// Identity returns the rendered ServiceAccount, its roles and their
// bindings: what onramp runs as and may do, without the workload.
func (r *Rendered) Identity() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range r.Objects {
		if slices.Contains(identityKinds, obj.GetKind()) {
			out = append(out, obj)
		}
	}
	return out
}

// Render renders the chart for r with the Helm SDK's client-only install (the
// code path of `helm template`): values are merged with values.yaml and
// checked against values.schema.json, and the objects come out in the order
// Helm would install them. Values the schema or the templates refuse are an
// error that says which.
func Render(r Release) (*Rendered, error) {
	c, err := Chart()
	if err != nil {
		return nil, err
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = r.Name
	install.Namespace = r.Namespace
	install.Replace = true
	install.SkipSchemaValidation = r.SkipSchemaValidation
	kubeVersion := r.KubeVersion
	if kubeVersion == "" {
		kubeVersion = DefaultKubeVersion
	}
	if install.KubeVersion, err = common.ParseKubeVersion(kubeVersion); err != nil {
		return nil, fmt.Errorf("kube version %q: %w", kubeVersion, err)
	}
	out, err := install.Run(c, r.Values)
	if err != nil {
		return nil, fmt.Errorf("render chart onramp as release %s in %s: %w", r.Name, r.Namespace, err)
	}
	rel, ok := out.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("render chart onramp: the Helm SDK returned a %T, not a release", out)
	}
	objs, err := Decode([]byte(rel.Manifest))
	if err != nil {
		return nil, fmt.Errorf("rendered chart onramp: %w", err)
	}
	return &Rendered{Objects: objs, Notes: rel.Info.Notes}, nil
}

// Decode reads every object of a multi-document YAML stream, skipping empty
// documents.
func Decode(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decode object %d: %w", len(objs)+1, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}
