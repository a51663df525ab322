package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is one running control plane component.
type process struct {
	name    string
	url     string // where it answers health checks
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	exitErr error         // how it exited; valid after done is closed
	exitAt  time.Time     // when it exited; valid after done is closed
}

// startProcess runs bin with args and extra environment, with stdout and
// stderr in logDir/<name>.log (the previous run's log is kept as .log.1).
// The child gets its own process group, so Stop can signal everything it
// spawned and a Ctrl-C in the terminal reaches only the parent (which then
// stops the cluster in order), and SIGKILL when its parent dies, so nothing
// outlives a killed test binary. (Linux sends Pdeathsig when the parent
// *thread* exits; the Go runtime never ends its threads unless a goroutine
// exits while locked with runtime.LockOSThread, so do not start a cluster from
// such a goroutine.)
func startProcess(name, bin string, args, env []string, logDir string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	if err := os.Rename(logPath, logPath+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("start %s: keep previous log: %w", name, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		p.exitAt = time.Now()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process group of p, unless p has exited.
func (p *process) signal(sig syscall.Signal) {
	if !p.exited() {
		_ = syscall.Kill(-p.pid(), sig)
	}
}

// wait waits up to grace for p to exit, then SIGKILLs its process group and
// waits for it to be reaped. It reports whether SIGKILL was needed.
func (p *process) wait(grace time.Duration) (killed bool) {
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

// exitError describes how p exited, with the tail of its log.
func (p *process) exitError() error {
	err := fmt.Errorf("%s exited: %v; last lines of %s:\n%s", p.name, p.exitErr, p.logPath, tailFile(p.logPath, 20))
	if logMentionsPortInUse(p.logPath) {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}
