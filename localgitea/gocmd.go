package localgitea

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// buildBinary compiles Gitea into binDir, through a temporary name so that
// an interrupted build never leaves half a binary.
func buildBinary(ctx context.Context, opts BuildOptions, binDir string) error {
	tmp := filepath.Join(binDir, fmt.Sprintf(".%s.tmp-%d", binaryName, os.Getpid()))
	defer os.Remove(tmp)
	fmt.Fprintf(opts.Progress, "localgitea: building gitea %s with cgo (about 7 minutes on 2 cores when cold)...\n", Version)
	start := time.Now()
	ldflags := fmt.Sprintf("-s -w -X main.Version=%s -X 'main.Tags=%s'", strings.TrimPrefix(Version, "v"), buildTags)
	args := []string{"build", "-trimpath", "-tags", buildTags, "-ldflags", ldflags, "-o", tmp, module}
	stop := tick(opts.Progress, start)
	err := goRun(ctx, opts.ToolsDir, opts.Progress, args...)
	stop()
	if err != nil {
		return fmt.Errorf("build gitea: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(binDir, binaryName)); err != nil {
		return fmt.Errorf("install gitea: %w", err)
	}
	fmt.Fprintf(opts.Progress, "localgitea: compiled gitea in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// tick prints how long the build has run every minute until stop is
// called, since go build says nothing while it compiles.
func tick(progress io.Writer, start time.Time) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(progress, "localgitea: still compiling gitea (%s)\n", time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(done) }
}

// copyStatic copies the folders Gitea reads at run time from its module into
// binDir, replacing any left by an interrupted build.
func copyStatic(ctx context.Context, opts BuildOptions, binDir string) error {
	fmt.Fprintf(opts.Progress, "localgitea: downloading %s@%s if needed...\n", module, Version)
	src, err := goOutput(ctx, opts.ToolsDir, opts.Progress, "list", "-m", "-f", "{{.Dir}}", module)
	if err != nil {
		return fmt.Errorf("find gitea module folder: %w", err)
	}
	if src == "" {
		if _, err := goOutput(ctx, opts.ToolsDir, opts.Progress, "mod", "download", module); err != nil {
			return fmt.Errorf("download gitea module: %w", err)
		}
		if src, err = goOutput(ctx, opts.ToolsDir, nil, "list", "-m", "-f", "{{.Dir}}", module); err != nil {
			return fmt.Errorf("find gitea module folder: %w", err)
		}
	}
	for _, d := range staticDirs {
		dst := filepath.Join(binDir, d)
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("replace %s: %w", dst, err)
		}
		if err := os.CopyFS(dst, os.DirFS(filepath.Join(src, d))); err != nil {
			return fmt.Errorf("copy gitea's %s folder: %w", d, err)
		}
	}
	return nil
}

// goOutput runs the go command in dir and returns its trimmed standard
// output; standard error goes to progress when it is not nil.
func goOutput(ctx context.Context, dir string, progress io.Writer, args ...string) (string, error) {
	var stdout bytes.Buffer
	tail := &tailBuffer{max: 4096}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout = &stdout
	cmd.Stderr = tail
	if progress != nil {
		cmd.Stderr = io.MultiWriter(progress, tail)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(tail.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// goRun runs the go command in dir with cgo on, copying its output to
// progress and keeping the tail of it for the error message.
func goRun(ctx context.Context, dir string, progress io.Writer, args ...string) error {
	tail := &tailBuffer{max: 4096}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	cmd.Stdout = io.MultiWriter(progress, tail)
	cmd.Stderr = io.MultiWriter(progress, tail)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(tail.String()))
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond max.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string { return string(t.buf) }
