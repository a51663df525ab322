package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// errPortInUse marks a start that failed because a port picked by
// choosePorts was taken by someone else before the component bound it; Start
// retries with new ports.
var errPortInUse = errors.New("port taken before the component could bind it")

// portsFile remembers the ports of the last run in the data dir.
const portsFile = "ports.json"

// choosePorts returns n distinct free TCP ports on 127.0.0.1, reusing the
// ports of the previous run in dataDir where they are still free, and
// records them for the next run. Stable ports keep the kubeconfig valid
// across restarts and, more importantly, keep the artifact URLs that
// source-controller wrote into Flux objects pointing at its storage server:
// kustomize-controller otherwise retries a stale URL for minutes.
// fresh forces new ports (after a bind conflict). It also returns the
// previous run's ports (nil on a fresh data dir).
func choosePorts(dataDir string, n int, fresh bool) (ports, previous []int, err error) {
	if b, err := os.ReadFile(filepath.Join(dataDir, portsFile)); err == nil {
		_ = json.Unmarshal(b, &previous) // a bad file only costs stable ports
	}
	reuse := previous
	if fresh {
		reuse = nil
	}
	ports = make([]int, 0, n)
	taken := map[int]bool{}
	for i := range n {
		if i < len(reuse) && reuse[i] > 0 && !taken[reuse[i]] {
			if l, err := net.Listen("tcp", addr(reuse[i])); err == nil {
				defer l.Close()
				ports = append(ports, reuse[i])
				taken[reuse[i]] = true
				continue
			}
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		ports = append(ports, port)
		taken[port] = true
	}
	b, err := json.Marshal(ports)
	if err != nil {
		return nil, nil, fmt.Errorf("record ports: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, portsFile), b, 0o644); err != nil {
		return nil, nil, fmt.Errorf("record ports: %w", err)
	}
	return ports, previous, nil
}
