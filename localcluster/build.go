package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotBuilt is returned by Lookup when a binary or the CRDs are missing
// from the cache; run `make localcluster` (go run ./cmd/localcluster build).
var ErrNotBuilt = errors.New("local control plane not built: run `make localcluster` (go run ./cmd/localcluster build)")

// BuildOptions says where the tools modules are and where binaries go.
type BuildOptions struct {
	// ToolsDir is the tools/localcluster folder of the repository. Empty means
	// FindToolsDir from the working directory.
	ToolsDir string
	// CacheDir is the root of the binary cache; binaries land in
	// CacheDir/<key>. Empty means DefaultCacheDir.
	CacheDir string
	// Progress receives what is built and how long it took; nil discards.
	Progress io.Writer
}

// Build compiles the control plane binaries that are not already in the cache
// and copies the Flux CRDs next to them. It returns the bin directory to pass
// to Start. With a warm Go build cache it takes well under a minute; cold, about
// 20 minutes on 2 cores.
func Build(ctx context.Context, opts BuildOptions) (binDir string, err error) {
	total := time.Now()
	opts, binDir, err = resolve(ctx, opts)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create bin dir: %w", err)
	}
	for _, b := range binaries() {
		if err := buildBinary(ctx, opts, binDir, b); err != nil {
			return "", err
		}
	}
	if err := copyCRDs(ctx, opts, binDir); err != nil {
		return "", err
	}
	fmt.Fprintf(opts.Progress, "localcluster: binaries ready in %s (%s)\n", binDir, time.Since(total).Round(time.Millisecond))
	return binDir, nil
}

// Lookup returns the bin directory Build would produce, without building.
// It returns an error wrapping ErrNotBuilt when anything is missing. Outside
// an onramp checkout (no ToolsDir given and none found), there is no key to
// compute, so it returns the most recently built complete bin directory in
// the cache.
func Lookup(ctx context.Context, opts BuildOptions) (binDir string, err error) {
	if opts.ToolsDir == "" {
		if _, err := FindToolsDir(); err != nil {
			return newestBinDir(opts.CacheDir)
		}
	}
	_, binDir, err = resolve(ctx, opts)
	if err != nil {
		return "", err
	}
	if err := CheckBinDir(binDir); err != nil {
		return "", err
	}
	return binDir, nil
}

// CheckBinDir reports whether dir holds every binary and the CRDs Start needs;
// the error wraps ErrNotBuilt and names what is missing.
func CheckBinDir(dir string) error {
	var missing []string
	for _, b := range binaries() {
		if fi, err := os.Stat(filepath.Join(dir, b.name)); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, b.name)
		}
	}
	if crds, _ := filepath.Glob(filepath.Join(dir, crdDirName, "*.yaml")); len(crds) == 0 {
		missing = append(missing, crdDirName+"/*.yaml")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s missing in %s", ErrNotBuilt, strings.Join(missing, ", "), dir)
	}
	return nil
}

// newestBinDir returns the most recently modified complete bin directory
// under cacheDir (DefaultCacheDir when empty).
func newestBinDir(cacheDir string) (string, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return "", err
		}
	}
	entries, _ := os.ReadDir(cacheDir)
	var best string
	var bestTime time.Time
	for _, e := range entries {
		dir := filepath.Join(cacheDir, e.Name())
		info, err := e.Info()
		if err != nil || !e.IsDir() || CheckBinDir(dir) != nil {
			continue
		}
		if best == "" || info.ModTime().After(bestTime) {
			best, bestTime = dir, info.ModTime()
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no complete bin dir in %s", ErrNotBuilt, cacheDir)
	}
	return best, nil
}

// DefaultCacheDir is the cache root used when BuildOptions.CacheDir is empty:
// <user cache dir>/onramp/localcluster.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache dir (set HOME or XDG_CACHE_HOME): %w", err)
	}
	return filepath.Join(dir, "onramp", "localcluster"), nil
}

// FindToolsDir walks up from the working directory to the first folder that
// contains tools/localcluster and returns that tools/localcluster path.
func FindToolsDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find tools dir: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "tools", "localcluster")
		if _, err := os.Stat(filepath.Join(candidate, "kube", "go.mod")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find tools dir: no tools/localcluster above %s; run from inside the onramp repository", wd)
		}
	}
}

// resolve fills in defaults and computes the bin directory for opts.
func resolve(ctx context.Context, opts BuildOptions) (BuildOptions, string, error) {
	var err error
	if opts.ToolsDir == "" {
		if opts.ToolsDir, err = FindToolsDir(); err != nil {
			return opts, "", err
		}
	}
	if opts.CacheDir == "" {
		if opts.CacheDir, err = DefaultCacheDir(); err != nil {
			return opts, "", err
		}
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	key, err := cacheKey(ctx, opts.ToolsDir)
	if err != nil {
		return opts, "", fmt.Errorf("compute binary cache key: %w", err)
	}
	return opts, filepath.Join(opts.CacheDir, key), nil
}

// buildBinary builds one binary unless it is already in binDir. It writes to a
// temporary name first so that an interrupted build never leaves half a binary.
func buildBinary(ctx context.Context, opts BuildOptions, binDir string, b binary) error {
	dst := filepath.Join(binDir, b.name)
	if _, err := os.Stat(dst); err == nil {
		fmt.Fprintf(opts.Progress, "localcluster: %s already built\n", b.name)
		return nil
	}
	moduleDir := filepath.Join(opts.ToolsDir, b.module)
	ldflags := "-s -w"
	if b.kube {
		version, err := goOutput(ctx, moduleDir, "list", "-m", "-f", "{{.Version}}", "k8s.io/kubernetes")
		if err != nil {
			return fmt.Errorf("find kubernetes version: %w", err)
		}
		if ldflags, err = kubeLDFlags(version); err != nil {
			return err
		}
	}
	tmp := filepath.Join(binDir, fmt.Sprintf(".%s.tmp-%d", b.name, os.Getpid()))
	defer os.Remove(tmp)
	fmt.Fprintf(opts.Progress, "localcluster: building %s (%s)...\n", b.name, b.pkg)
	start := time.Now()
	if err := goRun(ctx, moduleDir, opts.Progress, "build", "-trimpath", "-ldflags", ldflags, "-o", tmp, b.pkg); err != nil {
		return fmt.Errorf("build %s: %w", b.name, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("install %s: %w", b.name, err)
	}
	fmt.Fprintf(opts.Progress, "localcluster: built %s in %s\n", b.name, time.Since(start).Round(time.Second))
	return nil
}
