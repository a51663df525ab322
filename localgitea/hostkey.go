package localgitea

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ensureHostKey returns the public half, in authorized_keys form, of the SSH
// host key at path, generating an ed25519 key there on first use. Gitea
// would make a 4096-bit RSA key itself, which takes seconds and leaves the
// caller to read it back.
func ensureHostKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if b, err = newHostKey(path); err != nil {
			return "", err
		}
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return "", fmt.Errorf("read ssh host key %s: %w; remove it to get a new one", path, err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))), nil
}

// newHostKey writes a new ed25519 private key in OpenSSH form to path.
func newHostKey(path string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ssh host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "gitea host key")
	if err != nil {
		return nil, fmt.Errorf("encode ssh host key: %w", err)
	}
	b := pem.EncodeToMemory(block)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("write ssh host key: %w", err)
	}
	return b, nil
}

// knownHostsLine returns the known_hosts line for a server at addr
// ("host:port") with the given public key (authorized_keys form):
// "[host]:port key".
func knownHostsLine(addr, authorizedKey string) string {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return "" // ensureHostKey made it from a parsed key
	}
	return knownhosts.Line([]string{addr}, key)
}
