package gitserver

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS makes everything written to the file system that holds dir
// durable, with syncfs(2): one call covers the packs, indexes, references
// and directories a write made, none of which go-git's storage syncs.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
