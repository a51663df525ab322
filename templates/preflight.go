package templates

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/onramp/onramp"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Preflight checks, before anything is created, that every environment's
// overlay path exists in files, holds a kustomization, builds with
// kustomize and produces only namespaced objects that stay in the
// environment's namespace. All failures are one EINVALID error that names
// each environment, its path and what exists instead or what went wrong.
func (r *Registry) Preflight(p *onramp.Project, files onramp.Files) error {
	return guarded(func() error { return preflight(p, files) })
}

func preflight(p *onramp.Project, files onramp.Files) error {
	if len(p.Environments) == 0 {
		return onramp.Errorf(onramp.EINVALID, "project %q has no environments to check", p.Name)
	}
	t := newTree(files)
	var msgs []string
	for _, env := range p.Environments {
		if msg := t.check(p.Name, env); msg != "" {
			msgs = append(msgs, fmt.Sprintf("environment %q: %s", env.Name, msg))
		}
	}
	if len(msgs) > 0 {
		return onramp.Errorf(onramp.EINVALID, "%s", strings.Join(msgs, "; "))
	}
	return nil
}

// ExistingOverlays returns the directories of files that hold a
// kustomization file, sorted, in the form a Flux Kustomization's spec.path
// takes ("./deploy/overlays/dev", "./" for the root).
func ExistingOverlays(files onramp.Files) []string {
	var out []string
	for p := range files {
		dir, name := path.Split(p)
		if isKustomization(name) {
			out = append(out, fluxPath(path.Clean("./"+dir)))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// kustomizationNames are the file names kustomize reads in a directory.
func kustomizationNames() []string {
	return []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}
}

func isKustomization(name string) bool { return slices.Contains(kustomizationNames(), name) }

// tree is a rendered template prepared for checking several environments.
type tree struct {
	files    onramp.Files
	dirs     map[string]bool // every directory that holds a file, "." included
	overlays []string
	mem      filesys.FileSystem // the files in memory, built on first use
}

func newTree(files onramp.Files) *tree {
	t := &tree{files: files, dirs: map[string]bool{".": true}, overlays: ExistingOverlays(files)}
	for p := range files {
		for d := path.Dir(p); d != "." && !t.dirs[d]; d = path.Dir(d) {
			t.dirs[d] = true
		}
	}
	return t
}

// check returns what is wrong with one environment, or "".
func (t *tree) check(project string, env onramp.Environment) string {
	dir, err := cleanRel(env.Path)
	if err != nil {
		return fmt.Sprintf("overlay path %v", err)
	}
	if msg := t.locate(dir); msg != "" {
		return msg
	}
	if err := t.checkRefs(dir, map[string]bool{dir: true}); err != nil {
		return fmt.Sprintf("overlay path %s: %v", fluxPath(dir), err)
	}
	objs, err := t.kustomize(dir)
	if err != nil {
		return fmt.Sprintf("kustomize build %s failed: %v", fluxPath(dir), err)
	}
	return objectProblems(objs, project, env, fluxPath(dir))
}

// locate says what is wrong when dir is not an overlay, naming the overlays
// that do exist, or returns "".
func (t *tree) locate(dir string) string {
	switch {
	case !t.dirs[dir]:
		return fmt.Sprintf("overlay path %s does not exist in the rendered template; %s", fluxPath(dir), t.hint())
	case t.kustomization(dir) == "":
		return fmt.Sprintf("overlay path %s holds no kustomization.yaml; %s", fluxPath(dir), t.hint())
	}
	return ""
}

func (t *tree) hint() string {
	if len(t.overlays) == 0 {
		return "no directory in the rendered template holds a kustomization.yaml"
	}
	return "overlays that exist: " + strings.Join(t.overlays, ", ")
}

// kustomization returns the path of dir's kustomization file, or "".
func (t *tree) kustomization(dir string) string {
	for _, name := range kustomizationNames() {
		if _, ok := t.files[path.Join(dir, name)]; ok {
			return path.Join(dir, name)
		}
	}
	return ""
}

// objectProblems refuses cluster-scoped objects, objects in another
// namespace and objects that would take the name of one onramp creates.
func objectProblems(objs []object, project string, env onramp.Environment, where string) string {
	if len(objs) == 0 {
		return fmt.Sprintf("kustomize build %s produces no objects", where)
	}
	var out []string
	for _, o := range objs {
		id := fmt.Sprintf("%s %q", o.kind, o.name)
		switch {
		case o.clusterScoped:
			out = append(out, fmt.Sprintf("%s in %s is cluster-scoped; a template may only hold namespaced objects, which Flux applies into %s", id, where, env.Namespace))
		case o.namespace != "" && o.namespace != env.Namespace:
			out = append(out, fmt.Sprintf("%s in %s sets namespace %q; leave metadata.namespace empty so that Flux applies it into %s", id, where, o.namespace, env.Namespace))
		case reservedName(project, o.kind, o.name):
			out = append(out, fmt.Sprintf("%s in %s has the name of an object onramp creates in %s; rename it", id, where, env.Namespace))
		}
	}
	return strings.Join(out, "; ")
}

// reservedName reports whether an object would collide with one onramp
// itself creates in every environment's namespace.
func reservedName(project, kind, name string) bool {
	switch kind {
	case "Secret":
		return name == project+"-git"
	case "ServiceAccount", "RoleBinding":
		return name == project+"-flux"
	case "GitRepository", "Kustomization":
		return name == project
	}
	return false
}
