// Command onramp-image builds onramp's container image without a container
// engine: a static onramp binary, the files of a non-root user, and an OCI
// image config, written as a tarball that `docker load`, `podman load` and
// `crane push` take. `make image` builds the binary and runs it.
//
//	onramp-image -binary bin/linux-amd64/onramp -arch amd64 \
//	    -version v1.2.3 -revision $(git rev-parse HEAD) -o bin/onramp-image-amd64.tar
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "onramp-image:", err)
		os.Exit(1)
	}
}

// run parses args, builds the image and writes its tarball.
func run(args []string, stdout, stderr io.Writer) error {
	var o Options
	var out, created string
	fs := flag.NewFlagSet("onramp-image", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Binary, "binary", "", "the static onramp binary for linux/ARCH (required)")
	fs.StringVar(&o.Arch, "arch", "amd64", "the binary's architecture: amd64 or arm64")
	fs.StringVar(&o.Repository, "repository", DefaultRepository, "repository of the image's tag")
	fs.StringVar(&o.Version, "version", "dev", "onramp's version: the image's tag and its version label")
	fs.StringVar(&o.Revision, "revision", "", "the Git commit the binary was built from (revision label)")
	fs.StringVar(&o.Source, "source", DefaultSource, "where the source lives (source label)")
	fs.StringVar(&created, "created", "", "creation time, RFC 3339 (default the Unix epoch, for reproducible images; give the commit's time)")
	fs.StringVar(&out, "o", "", "the image tarball to write (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Binary == "" || out == "" {
		return fmt.Errorf("give -binary (the onramp binary to package) and -o (the tarball to write)")
	}
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return fmt.Errorf("-created %q: give an RFC 3339 time such as 2026-01-02T15:04:05Z: %w", created, err)
		}
		o.Created = t
	}
	ref, err := Write(out, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s, linux/%s)\n", out, ref, o.Arch)
	return nil
}
