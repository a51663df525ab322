package gitprovider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/onramp/onramp"
)

// DeployCredential is a repository's read-only credential for Flux: an SSH
// deploy key (Gitea, GitHub) or an HTTPS deploy token (GitLab). Its secret
// half is never shown: String and LogValue leave it out.
type DeployCredential struct {
	// Title names it on the provider: "onramp-flux-<project>".
	Title string
	// ID is the provider's number for it.
	ID int64
	// URL is what Flux clones: ssh://… for a deploy key, https://… for a
	// deploy token.
	URL string
	// Identity is the deploy key's private half (OpenSSH PEM); secret.
	Identity []byte
	// PublicKey is the deploy key's public half (authorized_keys form).
	PublicKey string
	// KnownHosts is the provider's SSH host key line(s) for URL's host.
	KnownHosts string
	// Username and Password are the deploy token; Password is secret.
	Username, Password string
}

// SecretData is what goes into the Flux GitRepository's Secret: identity,
// identity.pub and known_hosts for SSH, username and password for HTTPS.
func (c DeployCredential) SecretData() map[string][]byte {
	if c.Password != "" {
		return map[string][]byte{"username": []byte(c.Username), "password": []byte(c.Password)}
	}
	return map[string][]byte{
		"identity":     c.Identity,
		"identity.pub": []byte(c.PublicKey),
		"known_hosts":  []byte(c.KnownHosts),
	}
}

// String describes c without its secret half.
func (c DeployCredential) String() string {
	return fmt.Sprintf("deploy credential %s (id %d) for %s", c.Title, c.ID, c.URL)
}

// GoString is String, so that %#v does not show the secret half either.
func (c DeployCredential) GoString() string { return c.String() }

// LogValue logs c without its secret half.
func (c DeployCredential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("title", c.Title), slog.Int64("id", c.ID), slog.String("url", c.URL))
}

// newDeployKey generates an ed25519 key pair: the private half in OpenSSH
// PEM, the public half in authorized_keys form.
func newDeployKey(comment string) (identity []byte, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generate deploy key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, "", fmt.Errorf("encode deploy key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("encode deploy key: %w", err)
	}
	return pem.EncodeToMemory(block), authorizedKey(sshPub), nil
}

// authorizedKey is key in authorized_keys form, without a comment.
func authorizedKey(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// sameKey reports whether two authorized_keys lines hold the same key,
// whatever their comments.
func sameKey(a, b string) bool {
	ka, _, _, _, errA := ssh.ParseAuthorizedKey([]byte(a))
	kb, _, _, _, errB := ssh.ParseAuthorizedKey([]byte(b))
	return errA == nil && errB == nil && authorizedKey(ka) == authorizedKey(kb)
}

// sshCloneURL turns the SSH clone URL a provider reports, ssh://… or
// scp-like git@host:owner/repo.git, into the ssh:// form Flux wants, and
// returns the host:port it connects to.
func sshCloneURL(raw string) (cloneURL, hostPort string, err error) {
	if !strings.Contains(raw, "://") {
		userHost, path, ok := strings.Cut(raw, ":")
		if !ok {
			return "", "", fmt.Errorf("unrecognised SSH clone URL %q", raw)
		}
		raw = "ssh://" + userHost + "/" + strings.TrimPrefix(path, "/")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "ssh" || u.Host == "" {
		return "", "", fmt.Errorf("unrecognised SSH clone URL %q", raw)
	}
	hostPort = u.Host
	if u.Port() == "" {
		hostPort = net.JoinHostPort(u.Hostname(), "22")
	}
	return u.String(), hostPort, nil
}

// errKeyScanned ends a handshake once the host key is known.
var errKeyScanned = errors.New("host key scanned")

// scanHostKey connects to the SSH server at hostPort and returns its host
// key as a known_hosts line, trusting it on first use as ssh-keyscan does.
// A connection's KnownHosts pins the key instead.
func scanHostKey(ctx context.Context, hostPort string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return "", err
		}
	}
	var line string
	cfg := &ssh.ClientConfig{
		User: "git",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			line = knownhosts.Line([]string{hostPort}, key)
			return errKeyScanned
		},
	}
	_, _, _, err = ssh.NewClientConn(conn, hostPort, cfg)
	if line == "" {
		return "", fmt.Errorf("ssh handshake with %s: %w", hostPort, err)
	}
	return line, nil
}

// knownHostsFor returns the known_hosts line(s) for hostPort: the
// connection's pinned lines when set, else the key its server presents.
func knownHostsFor(ctx context.Context, c Connection, errs classifier, op, hostPort string) (string, error) {
	if c.KnownHosts != "" {
		return c.KnownHosts, nil
	}
	line, err := scanHostKey(ctx, hostPort)
	if err != nil {
		return "", &Error{Op: op, Code: onramp.EUNAVAILABLE, Retry: true, detail: err.Error(), cause: err,
			Message: fmt.Sprintf("the SSH server of %s at %s did not present its host key: onramp tries again", errs.name, hostPort)}
	}
	return line, nil
}
