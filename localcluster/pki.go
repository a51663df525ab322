package localcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths and contents of the certificates and keys the control
// plane uses. They are kept in DataDir/pki so that restarts reuse them.
type pki struct {
	dir          string
	caPEM        []byte // cluster CA, trusted by clients and the apiserver
	adminCertPEM []byte // client certificate in group system:masters
	adminKeyPEM  []byte
}

// File names inside the pki folder.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "apiserver.crt"
	servingKeyFile  = "apiserver.key"
	adminCertFile   = "admin.crt"
	adminKeyFile    = "admin.key"
	saKeyFile       = "sa.key"
	saPubFile       = "sa.pub"
)

// certLifetime is long because these certificates never leave the machine;
// ensurePKI regenerates them when they come within renewBefore of expiry.
const (
	certLifetime = 10 * 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// path returns the path of a file in the pki folder.
func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

// ensurePKI loads the certificates in dir, or generates a fresh set when any
// is missing, unreadable or close to expiry.
func ensurePKI(dir string) (*pki, error) {
	p := &pki{dir: dir}
	if err := p.load(); err == nil {
		return p, nil
	}
	if err := p.generate(); err != nil {
		return nil, fmt.Errorf("generate certificates in %s: %w", dir, err)
	}
	return p, nil
}

// load reads an existing set and checks that every certificate is still valid.
func (p *pki) load() error {
	for _, name := range []string{caKeyFile, servingKeyFile, saKeyFile, saPubFile} {
		if _, err := os.Stat(p.path(name)); err != nil {
			return err
		}
	}
	var err error
	if p.caPEM, err = readValidCert(p.path(caCertFile)); err != nil {
		return err
	}
	if _, err = readValidCert(p.path(servingCertFile)); err != nil {
		return err
	}
	if p.adminCertPEM, err = readValidCert(p.path(adminCertFile)); err != nil {
		return err
	}
	p.adminKeyPEM, err = os.ReadFile(p.path(adminKeyFile))
	return err
}

// readValidCert reads a PEM certificate and fails when it expires soon.
func readValidCert(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block in " + path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	if time.Until(cert.NotAfter) < renewBefore {
		return nil, errors.New("certificate " + path + " expires soon")
	}
	return b, nil
}

// generate creates the CA, the apiserver serving certificate, the admin client
// certificate and the service account signing key.
func (p *pki) generate() error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	caKey, err := newKey()
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "onramp-localcluster-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caCert, caPEM, err := sign(caTmpl, caKey, nil, caKey)
	if err != nil {
		return err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 0, 0, 1)},
	}
	admin := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "onramp-admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	files := map[string][]byte{caCertFile: caPEM}
	if files[caKeyFile], err = keyPEM(caKey); err != nil {
		return err
	}
	for _, leaf := range []struct {
		tmpl              *x509.Certificate
		certFile, keyFile string
	}{{serving, servingCertFile, servingKeyFile}, {admin, adminCertFile, adminKeyFile}} {
		key, err := newKey()
		if err != nil {
			return err
		}
		if _, files[leaf.certFile], err = sign(leaf.tmpl, key, caCert, caKey); err != nil {
			return err
		}
		if files[leaf.keyFile], err = keyPEM(key); err != nil {
			return err
		}
	}
	saKey, err := newKey()
	if err != nil {
		return err
	}
	if files[saKeyFile], err = keyPEM(saKey); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return err
	}
	files[saPubFile] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	for name, b := range files {
		if err := os.WriteFile(p.path(name), b, 0o600); err != nil {
			return err
		}
	}
	p.caPEM, p.adminCertPEM, p.adminKeyPEM = caPEM, files[adminCertFile], files[adminKeyFile]
	return nil
}

// newKey returns a P-256 key: fast to generate and accepted everywhere here,
// including as the service account signing key (ES256).
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// sign issues tmpl for key, signed by parent (self-signed when parent is nil).
func sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(certLifetime)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// keyPEM encodes key in SEC 1 form ("EC PRIVATE KEY"), which every
// Kubernetes component reads.
func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
