package localgitea

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// ports are the loopback ports of one run.
type ports struct {
	HTTP int `json:"http"`
	SSH  int `json:"ssh"`
}

// errPortInUse marks a start that failed because a port choosePorts picked
// was taken before Gitea bound it; Start tries again on new ports.
var errPortInUse = errors.New("port taken before gitea could bind it")

// choosePorts returns two free ports on 127.0.0.1, reusing the previous
// run's (dataDir/ports.json) where they are still free, so that clone URLs
// handed out before a restart keep working, and records them. fresh picks
// new ones.
func choosePorts(dataDir string, fresh bool) (ports, error) {
	path := filepath.Join(dataDir, "ports.json")
	var prev ports
	if b, err := os.ReadFile(path); err == nil && !fresh {
		_ = json.Unmarshal(b, &prev) // a bad file only costs stable ports
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	pick := func(want int) (int, error) {
		if want > 0 {
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(want))); err == nil {
				listeners = append(listeners, l)
				return want, nil
			}
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	var p ports
	var err error
	if p.HTTP, err = pick(prev.HTTP); err != nil {
		return p, err
	}
	if p.SSH, err = pick(prev.SSH); err != nil {
		return p, err
	}
	return p, writeJSON(path, p)
}
