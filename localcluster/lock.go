package localcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDataDir takes an exclusive lock on dataDir/lock so that two clusters
// never share one etcd data dir. The kernel drops the lock when the process
// dies, so a crashed run never leaves a stale lock behind.
func lockDataDir(dataDir string) (unlock func() error, err error) {
	path := filepath.Join(dataDir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data dir %s is in use by another local cluster (pid %s); stop it or use another data dir", dataDir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() error {
		if err := f.Close(); err != nil {
			return fmt.Errorf("unlock data dir: %w", err)
		}
		return nil
	}, nil
}
