package localgitea

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Version is the Gitea release that tools/gitea pins.
const Version = "v1.26.4"

// module is the Go module Gitea is built from.
const module = "code.gitea.io/gitea"

// buildTags are the tags Gitea's own release builds use for SQLite.
const buildTags = "sqlite sqlite_unlock_notify"

// recipe changes whenever the way the binary is built changes, so that a new
// recipe gets a new cache directory instead of reusing a stale binary.
const recipe = "localgitea-recipe-1: CGO_ENABLED=1 go build -trimpath -tags '" + buildTags + "' -ldflags '-s -w -X main.Version'; static options, templates, public"

// binaryName is the file name of Gitea in the bin directory.
const binaryName = "gitea"

// staticDirs are the folders of Gitea's module that it reads at run time
// when built without bindata; they are copied next to the binary so that the
// module cache can be cleaned without breaking a built Gitea.
var staticDirs = []string{"options", "templates", "public"}

// ErrNotBuilt is returned by Lookup when the binary is missing from the
// cache; run `make gitea` (go run ./cmd/localgitea build).
var ErrNotBuilt = errors.New("gitea not built: run `make gitea` (go run ./cmd/localgitea build)")

// BuildOptions says where the tools module is and where the binary goes.
type BuildOptions struct {
	// ToolsDir is the tools/gitea folder of the repository. Empty means
	// FindToolsDir from the working directory.
	ToolsDir string
	// CacheDir is the root of the binary cache; the binary lands in
	// CacheDir/<version>-<key>. Empty means DefaultCacheDir.
	CacheDir string
	// Progress receives what is built and how long it took; nil discards.
	Progress io.Writer
}

// Build compiles Gitea unless it is already in the cache, copies the files
// it reads at run time next to it, and returns the bin directory to pass to
// Start. Cold, it takes about 7 minutes on 2 cores; warm, nothing.
func Build(ctx context.Context, opts BuildOptions) (binDir string, err error) {
	opts, binDir, err = resolve(ctx, opts)
	if err != nil {
		return "", err
	}
	if CheckBinDir(binDir) == nil {
		fmt.Fprintf(opts.Progress, "localgitea: gitea %s already built in %s\n", Version, binDir)
		return binDir, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create bin dir: %w", err)
	}
	start := time.Now()
	if err := copyStatic(ctx, opts, binDir); err != nil {
		return "", err
	}
	if err := buildBinary(ctx, opts, binDir); err != nil {
		return "", err
	}
	fmt.Fprintf(opts.Progress, "localgitea: built gitea %s in %s into %s\n", Version, time.Since(start).Round(time.Second), binDir)
	return binDir, nil
}

// Lookup returns the bin directory Build would produce, without building;
// the error wraps ErrNotBuilt when the binary is missing. Outside an onramp
// checkout (no ToolsDir given and none found) there is no key to compute,
// so it returns the most recently built complete bin directory.
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

// CheckBinDir reports whether dir holds the binary and its static files; the
// error wraps ErrNotBuilt and names what is missing.
func CheckBinDir(dir string) error {
	for _, name := range append([]string{binaryName}, staticDirs...) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%w: %s missing in %s", ErrNotBuilt, name, dir)
		}
	}
	return nil
}

// newestBinDir returns the most recently built complete bin directory
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
// <user cache dir>/onramp/gitea.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache dir (set HOME or XDG_CACHE_HOME): %w", err)
	}
	return filepath.Join(dir, "onramp", "gitea"), nil
}

// FindToolsDir walks up from the working directory to the first folder that
// contains tools/gitea and returns that tools/gitea path.
func FindToolsDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find tools dir: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "tools", "gitea")
		if _, err := os.Stat(filepath.Join(candidate, "go.mod")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find tools dir: no tools/gitea above %s; run from inside the onramp repository", wd)
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
		return opts, "", fmt.Errorf("compute gitea cache key: %w", err)
	}
	return opts, filepath.Join(opts.CacheDir, Version+"-"+key), nil
}

// cacheKey hashes everything that decides what the binary is: the tools
// module's go.mod and go.sum, the Go toolchain and target, and the recipe.
func cacheKey(ctx context.Context, toolsDir string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, recipe)
	goEnv, err := goOutput(ctx, toolsDir, nil, "env", "GOVERSION", "GOOS", "GOARCH")
	if err != nil {
		return "", err
	}
	fmt.Fprintln(h, goEnv)
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(toolsDir, f))
		if err != nil {
			return "", fmt.Errorf("read tools module file: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
