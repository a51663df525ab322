package localgitea_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/onramp/onramp/localgitea"
	"github.com/onramp/onramp/localgitea/giteatest"
)

func TestMain(m *testing.M) { giteatest.Main(m) }

// TestStart checks what Start promises: the API answers the admin's token,
// everything listens on loopback, and the SSH server presents the host key
// whose known_hosts line Start returned.
func TestStart(t *testing.T) {
	g := giteatest.Gitea(t)
	for _, addr := range []string{strings.TrimPrefix(g.URL, "http://"), g.SSHAddr} {
		if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
			t.Errorf("gitea listens on %s; want 127.0.0.1 only", addr)
		}
	}
	var me struct {
		Login   string `json:"login"`
		IsAdmin bool   `json:"is_admin"`
	}
	getJSON(t, g.URL+"/api/v1/user", g.Admin.Token, &me)
	if me.Login != g.Admin.User || !me.IsAdmin {
		t.Errorf("GET /user = %+v; want admin %q", me, g.Admin.User)
	}
	checkHostKey(t, g)
}

// TestRestart starts a Gitea of its own twice on one data dir: the admin,
// its token and the ports survive; while it runs, the data dir is refused
// to another.
func TestRestart(t *testing.T) {
	opts := localgitea.Options{BinDir: giteatest.BinDir(t), DataDir: t.TempDir()}
	first, err := localgitea.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localgitea.Start(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "in use by another Gitea") {
		t.Errorf("a second Start on a data dir in use: %v; want it refused", err)
	}
	first.Stop()
	second, err := localgitea.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	if second.Admin != first.Admin || second.URL != first.URL || second.KnownHosts != first.KnownHosts {
		t.Errorf("after a restart: url %s, known_hosts %q; want %s, %q and the same admin", second.URL, second.KnownHosts, first.URL, first.KnownHosts)
	}
	var me struct{ Login string }
	getJSON(t, second.URL+"/api/v1/user", second.Admin.Token, &me)
}

// checkHostKey connects to Gitea's SSH server trusting only g.KnownHosts:
// the handshake must get past the host key and fail at authentication.
func checkHostKey(t *testing.T, g *localgitea.Gitea) {
	t.Helper()
	path := t.TempDir() + "/known_hosts"
	writeFile(t, path, g.KnownHosts+"\n")
	callback, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ClientConfig{User: "git", HostKeyCallback: callback, Timeout: 5 * time.Second}
	_, err = ssh.Dial("tcp", g.SSHAddr, cfg)
	var keyErr *knownhosts.KeyError
	if err == nil || errors.As(err, &keyErr) || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("ssh to %s with known_hosts %q: %v; want an authentication failure after the host key was accepted", g.SSHAddr, g.KnownHosts, err)
	}
}

// getJSON decodes the answer to an authenticated GET.
func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
