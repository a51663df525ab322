package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestImage builds onramp for linux, packages it as `make image` does, reads
// the tarball back as `docker load` or `crane push` would, and runs the
// binary taken out of the image's layer.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the onramp binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("runs the linux binary it packages")
	}
	dir := t.TempDir()
	binary := buildOnramp(t, dir, "v1.2.3-test")
	o := Options{
		Binary: binary, Arch: runtime.GOARCH, Version: "v1.2.3-test",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Created:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	path := filepath.Join(dir, "image.tar")
	tag, err := Write(path, o)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got, want := tag.String(), DefaultRepository+":v1.2.3-test"; got != want {
		t.Errorf("tag = %q; want %q", got, want)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("read the tarball back: %v", err)
	}
	checkManifest(t, img)
	checkConfig(t, img, o)
	files := layerFiles(t, img)
	checkFiles(t, files)
	out := runExtracted(t, dir, files["onramp"].data, "version")
	if want := "onramp v1.2.3-test"; strings.TrimSpace(out) != want {
		t.Errorf("onramp version from the image = %q; want %q", out, want)
	}
}

// buildOnramp builds the static onramp binary into dir, with the flags of
// `make build` (so its build cache serves) rather than make image's -trimpath.
func buildOnramp(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "onramp")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+version,
		"-o", out, "github.com/onramp/onramp/cmd/onramp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build onramp: %v\n%s", err, b)
	}
	return out
}

// checkManifest: one layer, and the manifest names the config it carries.
func checkManifest(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	if len(m.Layers) != 1 {
		t.Errorf("manifest has %d layers; want 1", len(m.Layers))
	}
	name, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != name {
		t.Errorf("manifest config digest = %s; want the config's %s", m.Config.Digest, name)
	}
}

// checkConfig: what runs, as whom, on which platform, with which labels.
func checkConfig(t *testing.T, img v1.Image, o Options) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("ConfigFile: %v", err)
	}
	c := cf.Config
	tests := []struct {
		name, got, want string
	}{
		{"os", cf.OS, "linux"},
		{"architecture", cf.Architecture, o.Arch},
		{"entrypoint", strings.Join(c.Entrypoint, " "), "/onramp"},
		{"cmd", strings.Join(c.Cmd, " "), "serve"},
		{"user", c.User, "65532:65532"},
		{"created", cf.Created.UTC().Format(time.RFC3339), "2026-01-02T03:04:05Z"},
		{"source label", c.Labels["org.opencontainers.image.source"], DefaultSource},
		{"version label", c.Labels["org.opencontainers.image.version"], o.Version},
		{"revision label", c.Labels["org.opencontainers.image.revision"], o.Revision},
		{"ONRAMP_ADDR", envValue(c.Env, "ONRAMP_ADDR"), "0.0.0.0:8080"},
		{"ONRAMP_DATA_DIR", envValue(c.Env, "ONRAMP_DATA_DIR"), "/var/lib/onramp"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("config %s = %q; want %q", tt.name, tt.got, tt.want)
		}
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v; want 8080/tcp", c.ExposedPorts)
	}
}

// envValue returns the value of name in a list of NAME=VALUE.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// file is one entry of the image's file system.
type file struct {
	hdr  *tar.Header
	data []byte
}

// layerFiles reads the image's flattened file system.
func layerFiles(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]file{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("read the image's file system: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(hdr.Name, "/")] = file{hdr: hdr, data: data}
	}
}

// checkFiles: the binary is executable, the data dir and home belong to the
// non-root user, /tmp is writable by all, and /etc/passwd names the user.
func checkFiles(t *testing.T, files map[string]file) {
	t.Helper()
	tests := []struct {
		path string
		mode int64
		uid  int
	}{
		{"onramp", 0o755, 0},
		{"var/lib/onramp", 0o700, UID},
		{"home/nonroot", 0o700, UID},
		{"tmp", 0o1777, 0},
		{"etc/passwd", 0o644, 0},
	}
	for _, tt := range tests {
		f, ok := files[tt.path]
		if !ok {
			t.Errorf("the image has no /%s", tt.path)
			continue
		}
		if f.hdr.Mode != tt.mode || f.hdr.Uid != tt.uid {
			t.Errorf("/%s mode %o uid %d; want mode %o uid %d", tt.path, f.hdr.Mode, f.hdr.Uid, tt.mode, tt.uid)
		}
	}
	if !strings.Contains(string(files["etc/passwd"].data), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd = %q; want the user nonroot with UID 65532", files["etc/passwd"].data)
	}
}

// runExtracted writes the binary taken from the image to dir and runs it.
func runExtracted(t *testing.T, dir string, binary []byte, args ...string) string {
	t.Helper()
	if len(binary) == 0 {
		t.Fatal("the image has no /onramp")
	}
	path := filepath.Join(dir, "extracted-onramp")
	if err := os.WriteFile(path, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("onramp %s from the image: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestTag: a version a tag cannot hold still gives a valid tag.
func TestTag(t *testing.T) {
	tests := []struct {
		name, version, want string
	}{
		{"semver", "v1.2.3", DefaultRepository + ":v1.2.3"},
		{"build metadata", "v1.2.3+abc", DefaultRepository + ":v1.2.3-abc"},
		{"git describe", "2e073d0-dirty", DefaultRepository + ":2e073d0-dirty"},
		{"empty", "", DefaultRepository + ":dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, err := Tag(Options{Version: tt.version})
			if err != nil {
				t.Fatalf("Tag(%q): %v", tt.version, err)
			}
			if got := tag.String(); got != tt.want {
				t.Errorf("Tag(%q) = %q; want %q", tt.version, got, tt.want)
			}
		})
	}
}

// TestBuildArm64: an arm64 binary gives an image for linux/arm64 (the
// binary is not run, so any file stands in for it).
func TestBuildArm64(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "onramp")
	if err := os.WriteFile(binary, []byte("not a real binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := Build(Options{Binary: binary, Arch: "arm64", Version: "v1"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform = %s/%s; want linux/arm64", cf.OS, cf.Architecture)
	}
	if got := cf.Created.UTC(); !got.Equal(time.Unix(0, 0)) {
		t.Errorf("created = %s; want the Unix epoch when none is given", got)
	}
}

// TestRunRefusesMissingFlags: the command says what to give.
func TestRunRefusesMissingFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no binary", []string{"-o", "x.tar"}, "give -binary"},
		{"bad arch", []string{"-binary", "x", "-o", filepath.Join(t.TempDir(), "x.tar"), "-arch", "s390x"}, "give amd64 or arm64"},
		{"bad time", []string{"-binary", "x", "-o", "x.tar", "-created", "yesterday"}, "RFC 3339"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v; want an error saying %q", tt.args, err, tt.want)
			}
		})
	}
}
