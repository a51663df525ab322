package main

import (
	"archive/tar"
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Defaults of the image's tag and source label.
const (
	DefaultRepository = "ghcr.io/onramp/onramp"
	DefaultSource     = "https://github.com/onramp/onramp"
)

// The image's fixed facts; the Dockerfile says the same.
const (
	// UID and GID run onramp: not root, and the user distroless images call nonroot.
	UID = 65532
	GID = 65532
	// Entrypoint is where the binary lives; Cmd is what it runs by default.
	Entrypoint = "/onramp"
	Cmd        = "serve"
	// DataDir holds SQLite, the Git repositories and the secret key: a
	// volume in a cluster, writable by UID on a plain `docker run`.
	DataDir = "/var/lib/onramp"
	// Port is where onramp listens in the image.
	Port = 8080
)

// rootfs holds /etc/passwd and /etc/group, so that tools inside and outside
// the container name UID and GID.
//
//go:embed rootfs
var rootfs embed.FS

// Options say what to package and how to label it.
type Options struct {
	Binary     string    // path of the static onramp binary
	Arch       string    // GOARCH of the binary: amd64 or arm64
	Repository string    // repository of the tag
	Version    string    // version label and tag
	Revision   string    // revision label: the Git commit
	Source     string    // source label
	Created    time.Time // creation time; zero means the Unix epoch
}

// Write builds the image and writes it as a tarball to path, tagged
// Repository:Version, and returns the tag.
func Write(path string, o Options) (name.Tag, error) {
	img, err := Build(o)
	if err != nil {
		return name.Tag{}, err
	}
	tag, err := Tag(o)
	if err != nil {
		return name.Tag{}, err
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return name.Tag{}, fmt.Errorf("write image tarball %s: %w", path, err)
	}
	return tag, nil
}

// badTagChars are the characters a version may hold that a tag may not.
var badTagChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// Tag is the image's tag: Repository:Version, with characters a tag cannot
// hold (such as the + of a semantic version's build metadata) made dashes.
func Tag(o Options) (name.Tag, error) {
	repo := o.Repository
	if repo == "" {
		repo = DefaultRepository
	}
	version := badTagChars.ReplaceAllString(o.Version, "-")
	if version == "" {
		version = "dev"
	}
	tag, err := name.NewTag(repo + ":" + version)
	if err != nil {
		return name.Tag{}, fmt.Errorf("tag the image %s:%s: %w (give -repository and -version a valid image name)", repo, version, err)
	}
	return tag, nil
}

// Build assembles the image: one layer holding the binary at Entrypoint,
// the user files, /tmp and DataDir; a config that runs the binary as UID on
// linux/Arch with the OCI labels.
func Build(o Options) (v1.Image, error) {
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return nil, fmt.Errorf("architecture %q: give amd64 or arm64", o.Arch)
	}
	binary, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("read the onramp binary: %w (build it with `make image`, which cross-compiles it first)", err)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	layerTar, err := rootLayer(binary, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make the image layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, configFile(o, created))
	if err != nil {
		return nil, fmt.Errorf("set the image config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "onramp-image", Comment: "onramp " + o.Version},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, fmt.Errorf("add the image layer: %w", err)
	}
	return img, nil
}

// configFile is the image config: what runs, as whom, where, and the labels.
func configFile(o Options, created time.Time) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: o.Arch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint:   []string{Entrypoint},
			Cmd:          []string{Cmd},
			User:         fmt.Sprintf("%d:%d", UID, GID),
			WorkingDir:   DataDir,
			ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
			Env: []string{
				"ONRAMP_ADDR=0.0.0.0:" + fmt.Sprint(Port),
				"ONRAMP_DATA_DIR=" + DataDir,
				"HOME=/home/nonroot",
			},
			Labels: Labels(o, created),
		},
	}
}

// Labels are the image's OCI annotations (the pre-defined keys of the OCI
// image spec).
func Labels(o Options, created time.Time) map[string]string {
	source := o.Source
	if source == "" {
		source = DefaultSource
	}
	l := map[string]string{
		"org.opencontainers.image.title":       "onramp",
		"org.opencontainers.image.description": "Takes a software project from create to deployed by Flux in every environment",
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.url":         source,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     created.UTC().Format(time.RFC3339),
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// entry is one file or folder of the layer.
type entry struct {
	path     string
	mode     int64
	uid, gid int
	data     []byte // nil for a folder
}

// rootLayer returns the uncompressed tar of the image's one layer, every
// entry stamped with created so that the same binary gives the same digest.
func rootLayer(binary []byte, created time.Time) ([]byte, error) {
	entries := []entry{
		{path: "etc/", mode: 0o755},
		{path: "home/", mode: 0o755},
		{path: "home/nonroot/", mode: 0o700, uid: UID, gid: GID},
		{path: "tmp/", mode: 0o1777},
		{path: "var/", mode: 0o755},
		{path: "var/lib/", mode: 0o755},
		{path: DataDir[1:] + "/", mode: 0o700, uid: UID, gid: GID},
		{path: Entrypoint[1:], mode: 0o755, data: binary},
	}
	for _, f := range []string{"etc/passwd", "etc/group"} {
		data, err := fs.ReadFile(rootfs, "rootfs/"+f)
		if err != nil {
			return nil, fmt.Errorf("read embedded %s: %w", f, err)
		}
		entries = append(entries, entry{path: f, mode: 0o644, data: data})
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := writeEntry(tw, e, created); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close the layer: %w", err)
	}
	return buf.Bytes(), nil
}

// writeEntry writes one entry's header and, for a file, its content.
func writeEntry(tw *tar.Writer, e entry, modTime time.Time) error {
	hdr := &tar.Header{
		Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.gid,
		ModTime: modTime, Format: tar.FormatPAX,
	}
	if e.data == nil {
		hdr.Typeflag = tar.TypeDir
	} else {
		hdr.Typeflag = tar.TypeReg
		hdr.Size = int64(len(e.data))
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if e.data != nil {
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return nil
}
