package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"
)

// idleAlone starts `onramp serve` without a cluster (the API, the Git
// server and the queue only) in a data dir of its own under dir, and
// returns its idle memory.
func idleAlone(ctx context.Context, bin, dir, databaseURL string) (string, error) {
	srv, err := startServer(ctx, bin, filepath.Join(dir, "alone"), databaseURL, "", "warn")
	if err != nil {
		return "", err
	}
	defer srv.stop()
	return idleMemory(ctx, srv)
}

// idleMemory waits until srv answers /healthz, lets it sit idle for 5 s and
// reads its resident memory, with its anonymous and file-backed parts,
// from /proc.
func idleMemory(ctx context.Context, srv *server) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", srv.url+"/healthz", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("healthz: %s", resp.Status)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(5 * time.Second):
	}
	pid := srv.cmd.Process.Pid
	return fmt.Sprintf("VmRSS %.1f MiB (anonymous %.1f, file-backed %.1f; peak %.1f)",
		mib(rssKiB(pid)), mib(procStatus(pid, "RssAnon:")), mib(procStatus(pid, "RssFile:")), mib(hwmKiB(pid))), nil
}

func mib(kib int) float64 { return float64(kib) / 1024 }
