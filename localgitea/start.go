package localgitea

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startTimeout bounds how long Start waits for Gitea to answer; it is ready
// in about 2 seconds on 2 cores.
const startTimeout = 2 * time.Minute

// Options says which binary to run and where it keeps its data.
type Options struct {
	// BinDir is the folder Build returned.
	BinDir string
	// DataDir holds app.ini, the SQLite database, the repositories, the SSH
	// host key and the admin's credentials; reuse it to keep them.
	DataDir string
	// Log receives start and stop lines; nil discards.
	Log *slog.Logger
}

// Gitea is a running Gitea. Its fields are set by Start and not changed.
type Gitea struct {
	// URL is the HTTP root, "http://127.0.0.1:PORT".
	URL string
	// SSHAddr is the built-in SSH server's "127.0.0.1:PORT"; its user is "git".
	SSHAddr string
	// SSHHostKey is the SSH server's public key in authorized_keys form.
	SSHHostKey string
	// KnownHosts is the line an SSH client trusts SSHAddr with.
	KnownHosts string
	// Admin is the site administrator Start created.
	Admin Admin

	dataDir string
	log     *slog.Logger
	proc    *process
	unlock  func()
}

// Admin is a site administrator: a user name, its password (basic auth, for
// the endpoints that take no token) and an access token with every scope.
// Printed or logged, it shows the user name only.
type Admin struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// String is the user name, without the password and the token.
func (a Admin) String() string { return a.User }

// GoString is String, so that %#v shows no secret either.
func (a Admin) GoString() string { return a.String() }

// LogValue logs the user name only.
func (a Admin) LogValue() slog.Value { return slog.StringValue(a.User) }

// Start runs Gitea from opts.BinDir on 127.0.0.1 and returns once its API
// and its SSH server answer. On first use of a data dir it creates the
// database and the admin; later starts reuse them, and the ports of the last
// run when they are free.
func Start(ctx context.Context, opts Options) (*Gitea, error) {
	if err := CheckBinDir(opts.BinDir); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create gitea data dir: %w", err)
	}
	unlock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	for attempt := range startAttempts {
		var g *Gitea
		g, err = start(ctx, opts, attempt > 0)
		if err == nil {
			g.unlock = unlock
			g.log.Info("localgitea started", "url", g.URL, "ssh", g.SSHAddr, "pid", g.proc.pid(), "took", time.Since(begin).Round(time.Millisecond))
			return g, nil
		}
		if !errors.Is(err, errPortInUse) {
			unlock()
			return nil, err
		}
		opts.Log.Warn("localgitea port taken before gitea could bind it; starting again on new ports", "err", err)
	}
	unlock()
	return nil, err
}

// startAttempts bounds how often Start picks new ports after one was taken
// between choosing it and Gitea binding it.
const startAttempts = 3

// start is one attempt of Start; fresh picks new ports instead of the last
// run's.
func start(ctx context.Context, opts Options, fresh bool) (*Gitea, error) {
	g, cfgPath, err := prepare(opts, fresh)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(opts.BinDir, binaryName)
	if err := runGitea(ctx, bin, g.dataDir, "migrate", "--config", cfgPath); err != nil {
		return nil, fmt.Errorf("create gitea's database: %w", err)
	}
	if g.Admin, err = ensureAdmin(ctx, bin, g.dataDir, cfgPath); err != nil {
		return nil, err
	}
	g.proc, err = startProcess(bin, []string{"web", "--config", cfgPath, "--work-path", g.dataDir}, g.dataDir)
	if err != nil {
		return nil, err
	}
	if err := g.waitReady(ctx); err != nil {
		g.proc.stop(time.Second)
		return nil, err
	}
	return g, nil
}

// prepare makes the data dir's folders, host key and app.ini.
func prepare(opts Options, fresh bool) (*Gitea, string, error) {
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, "", fmt.Errorf("data dir: %w", err)
	}
	for _, d := range []string{"data", "log", "ssh", "custom"} {
		if err := os.MkdirAll(filepath.Join(dataDir, d), 0o700); err != nil {
			return nil, "", fmt.Errorf("create gitea data dir: %w", err)
		}
	}
	hostKeyPath := filepath.Join(dataDir, "ssh", "host_ed25519")
	hostKey, err := ensureHostKey(hostKeyPath)
	if err != nil {
		return nil, "", err
	}
	k, err := loadKeys(dataDir)
	if err != nil {
		return nil, "", err
	}
	ports, err := choosePorts(dataDir, fresh)
	if err != nil {
		return nil, "", err
	}
	user, root, err := runUser()
	if err != nil {
		return nil, "", err
	}
	cfgPath, err := writeConfig(config{
		RunUser: user, Root: root, DataDir: dataDir, BinDir: opts.BinDir, HostKey: hostKeyPath,
		HTTPPort: ports.HTTP, SSHPort: ports.SSH, SecretKey: k.SecretKey, InternalToken: k.InternalToken,
	})
	if err != nil {
		return nil, "", err
	}
	sshAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.SSH))
	return &Gitea{
		URL:        "http://127.0.0.1:" + strconv.Itoa(ports.HTTP),
		SSHAddr:    sshAddr,
		SSHHostKey: hostKey,
		KnownHosts: knownHostsLine(sshAddr, hostKey),
		dataDir:    dataDir,
		log:        opts.Log,
	}, cfgPath, nil
}

// waitReady polls Gitea's health endpoint, then its SSH port.
func (g *Gitea) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; ; i++ {
		if err := g.ready(ctx, client); err == nil {
			return nil
		}
		// Gitea logs a taken HTTP port and keeps running without it.
		if i%20 == 19 && strings.Contains(tailFile(g.proc.logPath, 50), "address already in use") {
			return fmt.Errorf("%w: last lines of %s:\n%s", errPortInUse, g.proc.logPath, tailFile(g.proc.logPath, 20))
		}
		select {
		case <-g.proc.done:
			return g.proc.exitError()
		case <-ctx.Done():
			return fmt.Errorf("gitea did not answer at %s within %s: %w; last lines of %s:\n%s",
				g.URL, startTimeout, ctx.Err(), g.proc.logPath, tailFile(g.proc.logPath, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ready reports whether the API answers its health check and the SSH
// server accepts connections.
func (g *Gitea) ready(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/api/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s", resp.Status)
	}
	conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", g.SSHAddr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// Stop ends Gitea (SIGTERM, then SIGKILL after 10 seconds) and waits for it.
// The data dir stays.
func (g *Gitea) Stop() error {
	if g.proc == nil {
		return errors.New("gitea was not started")
	}
	killed := g.proc.stop(10 * time.Second)
	g.unlock()
	g.log.Info("localgitea stopped", "killed", killed)
	return nil
}

// Done is closed when the Gitea process has exited, by Stop or otherwise.
func (g *Gitea) Done() <-chan struct{} { return g.proc.done }

// PID is the process id of `gitea web`.
func (g *Gitea) PID() int { return g.proc.pid() }

// DataDir is the data dir Gitea runs in.
func (g *Gitea) DataDir() string { return g.dataDir }

// LogPath is the file Gitea's output goes to.
func (g *Gitea) LogPath() string { return g.proc.logPath }

// Logs returns the last n lines of Gitea's log.
func (g *Gitea) Logs(n int) string { return tailFile(g.proc.logPath, n) }
