package localgitea

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is the running `gitea web`.
type process struct {
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	exitErr error         // valid after done is closed
}

// startProcess runs bin with args, its output in dataDir/log/gitea.log (the
// previous run's kept as gitea.log.1), in a process group of its own so that
// Stop reaches every git child, and killed when its parent dies, so that
// nothing outlives a killed test binary.
func startProcess(bin string, args []string, dataDir string) (*process, error) {
	logPath := filepath.Join(dataDir, "log", "gitea.log")
	if err := os.Rename(logPath, logPath+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start gitea: keep previous log: %w", err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start gitea: open log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dataDir
	cmd.Env = giteaEnv(dataDir)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start gitea (%s): %w", bin, err)
	}
	p := &process{logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL; it reports whether SIGKILL was needed.
func (p *process) stop(grace time.Duration) (killed bool) {
	select {
	case <-p.done:
		return false
	default:
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return false
	case <-timer.C:
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
	return true
}

// exitError says that gitea exited, how, and what it logged last; it wraps
// errPortInUse when the log says a port was taken.
func (p *process) exitError() error {
	tail := tailFile(p.logPath, 20)
	err := fmt.Errorf("gitea exited: %v; last lines of %s:\n%s", p.exitErr, p.logPath, tail)
	if strings.Contains(tail, "address already in use") {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// tailFile returns the last n lines of the file at path.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
