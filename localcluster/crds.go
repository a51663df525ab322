package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// copyCRDs copies the Flux CRDs shipped in the controller modules'
// config/crd/bases folders into binDir/crds, unless they are already there.
// It fills a temporary folder and renames it, so the folder is all or nothing.
func copyCRDs(ctx context.Context, opts BuildOptions, binDir string) error {
	dst := filepath.Join(binDir, crdDirName)
	if crds, _ := filepath.Glob(filepath.Join(dst, "*.yaml")); len(crds) > 0 {
		fmt.Fprintf(opts.Progress, "localcluster: %d Flux CRDs already copied\n", len(crds))
		return nil
	}
	tmp, err := os.MkdirTemp(binDir, ".crds.tmp-")
	if err != nil {
		return fmt.Errorf("copy flux crds: %w", err)
	}
	defer os.RemoveAll(tmp)
	fluxDir := filepath.Join(opts.ToolsDir, "flux")
	n := 0
	for _, mod := range crdModules() {
		dir, err := moduleDir(ctx, fluxDir, mod)
		if err != nil {
			return fmt.Errorf("copy flux crds: %w", err)
		}
		files, err := filepath.Glob(filepath.Join(dir, "config", "crd", "bases", "*.yaml"))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("copy flux crds: no config/crd/bases/*.yaml in %s (module %s)", dir, mod)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("copy flux crds: %w", err)
			}
			if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), b, 0o644); err != nil {
				return fmt.Errorf("copy flux crds: %w", err)
			}
			n++
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("copy flux crds: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		if crds, _ := filepath.Glob(filepath.Join(dst, "*.yaml")); len(crds) > 0 {
			return nil // a concurrent Build got there first
		}
		return fmt.Errorf("copy flux crds: %w", err)
	}
	fmt.Fprintf(opts.Progress, "localcluster: copied %d Flux CRDs into %s\n", n, dst)
	return nil
}

// moduleDir returns the module cache folder of mod as required by the module
// in dir, downloading it first when it is not in the module cache yet.
func moduleDir(ctx context.Context, dir, mod string) (string, error) {
	path, err := goOutput(ctx, dir, "list", "-m", "-f", "{{.Dir}}", mod)
	if err == nil && path != "" {
		return path, nil
	}
	if _, err := goOutput(ctx, dir, "mod", "download", mod); err != nil {
		return "", fmt.Errorf("download %s: %w", mod, err)
	}
	path, err = goOutput(ctx, dir, "list", "-m", "-f", "{{.Dir}}", mod)
	if err != nil {
		return "", err
	}
	if path == "" {
		return "", fmt.Errorf("find module dir of %s: go list printed nothing", mod)
	}
	return path, nil
}
