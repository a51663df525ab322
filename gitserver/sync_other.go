//go:build !linux

package gitserver

import "syscall"

// syncFS makes what was written durable; without syncfs(2), by syncing
// every file system.
func syncFS(string) error {
	syscall.Sync()
	return nil
}
