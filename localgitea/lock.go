package localgitea

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDataDir takes an exclusive lock on dataDir/lock so that two Giteas
// never share one SQLite database and one repository folder. The kernel
// drops the lock when the process dies, so a crash leaves no stale lock.
func lockDataDir(dataDir string) (unlock func(), err error) {
	path := filepath.Join(dataDir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock gitea data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("gitea data dir %s is in use by another Gitea (pid %s): stop it or use another data dir", dataDir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock gitea data dir: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
