package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// healthChecks knows where each component reports readiness and how to ask.
type healthChecks struct {
	etcdURL, apiURL, kcmURL, scURL, kcURL string

	plain *http.Client // etcd and the Flux health endpoints (plain HTTP)
	tls   *http.Client // apiserver and controller manager: our CA and admin cert
}

// newHealthChecks prepares the checks for a run laid out by l.
func newHealthChecks(l *layout) *healthChecks {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.pki.caPEM)
	cert, err := tls.X509KeyPair(l.pki.adminCertPEM, l.pki.adminKeyPEM)
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if err == nil {
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	return &healthChecks{
		etcdURL: "http://" + addr(l.etcdPort) + "/health",
		apiURL:  "https://" + addr(l.apiPort) + "/readyz",
		kcmURL:  "https://" + addr(l.kcmPort) + "/healthz",
		scURL:   "http://" + addr(l.scHealthPort) + "/readyz",
		kcURL:   "http://" + addr(l.kcHealthPort) + "/readyz",
		plain:   &http.Client{Timeout: 2 * time.Second},
		tls:     &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}},
	}
}

// etcd checks that etcd reports itself healthy.
func (h *healthChecks) etcd(ctx context.Context) error {
	return get(ctx, h.plain, h.etcdURL, `"health":"true"`)
}

// api checks the apiserver's /readyz, which includes its post-start hooks.
func (h *healthChecks) api(ctx context.Context) error { return get(ctx, h.tls, h.apiURL, "") }

// kcm checks the controller manager's /healthz.
func (h *healthChecks) kcm(ctx context.Context) error { return get(ctx, h.tls, h.kcmURL, "") }

// sc checks source-controller's /readyz.
func (h *healthChecks) sc(ctx context.Context) error { return get(ctx, h.plain, h.scURL, "") }

// kc checks kustomize-controller's /readyz.
func (h *healthChecks) kc(ctx context.Context) error { return get(ctx, h.plain, h.kcURL, "") }

// get succeeds when url answers 200 and its body contains want.
func get(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
