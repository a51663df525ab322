package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/onramp/onramp"
)

// server is a running `onramp serve` process.
type server struct {
	cmd         *exec.Cmd
	url, token  string
	databaseURL string
	// listed is closed when the status watcher logs that its informers
	// have listed every object (at -log-level info).
	listed chan struct{}
}

// startServer runs `onramp serve` on a data dir in dir, with a token for a
// user of its own, against the cluster of kubeconfig, or none if it is "".
// It logs at logLevel; its warnings and errors go to this program's
// stderr, its other lines nowhere. env is added to its environment.
func startServer(ctx context.Context, bin, dir, databaseURL, kubeconfig, logLevel string, env ...string) (*server, error) {
	if kubeconfig != "" {
		if err := createNamespace(ctx, kubeconfig, onramp.DefaultNamespace); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "onramp")
	if databaseURL == "" {
		databaseURL = "sqlite://" + filepath.Join(data, "onramp.db")
	}
	common := []string{"--data-dir", data, "--database-url", databaseURL}
	out, err := exec.CommandContext(ctx, bin, append([]string{"token", "create", "--user", "bench"}, common...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("onramp token create: %w", err)
	}
	s := &server{token: strings.TrimSpace(string(out)), databaseURL: databaseURL, listed: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", logLevel}, common...)...)
	s.cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), env...)
	if kubeconfig == "" { // and no ~/.kube/config either
		s.cmd.Env = append(s.cmd.Env, "ONRAMP_KUBECONFIG=", "HOME="+dir)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	go s.logs(stderr)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start onramp serve: %w", err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if _, url, ok := strings.Cut(lines.Text(), " listening on "); ok {
			s.url = strings.TrimSpace(url)
			break
		}
	}
	if s.url == "" {
		s.stop()
		return nil, fmt.Errorf("onramp serve did not say where it listens")
	}
	go func() { // keep the pipe drained
		for lines.Scan() {
		}
	}()
	return s, nil
}

// logs copies the server's warnings and errors to stderr and closes
// s.listed when the status watcher has listed everything.
func (s *server) logs(r io.Reader) {
	lines := bufio.NewScanner(r)
	listed := false
	for lines.Scan() {
		line := lines.Text()
		switch {
		case !listed && strings.Contains(line, "watching every project's objects"):
			listed = true
			close(s.listed)
		case strings.Contains(line, "level=INFO"), strings.Contains(line, "level=DEBUG"):
		default:
			fmt.Fprintln(os.Stderr, line)
		}
	}
}

// stop ends the server as an operator would, with SIGTERM.
func (s *server) stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// createNamespace makes onramp's own namespace, where its status watcher
// takes its Lease; an installation has it already.
func createNamespace(ctx context.Context, kubeconfig, name string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
