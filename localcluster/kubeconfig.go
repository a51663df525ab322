package localcluster

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// contextName names the cluster, user and context in the kubeconfig file.
const contextName = "onramp-local"

// restConfig returns the admin configuration for the apiserver on port. The
// rate limits are high because tests and Flux share one local apiserver.
func (l *layout) restConfig() *rest.Config {
	return &rest.Config{
		Host: "https://" + addr(l.apiPort),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   l.pki.caPEM,
			CertData: l.pki.adminCertPEM,
			KeyData:  l.pki.adminKeyPEM,
		},
		QPS:   200,
		Burst: 400,
	}
}

// writeKubeconfig writes a self-contained admin kubeconfig (certificates
// embedded) for kubectl and the controllers. It is rewritten on every start
// because the apiserver port changes; the rename makes the switch atomic.
func (l *layout) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{
		Server:                   "https://" + addr(l.apiPort),
		CertificateAuthorityData: l.pki.caPEM,
	}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{
		ClientCertificateData: l.pki.adminCertPEM,
		ClientKeyData:         l.pki.adminKeyPEM,
	}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: contextName, Namespace: "default"}
	cfg.CurrentContext = contextName
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(l.kubeconfig), ".kubeconfig-")
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.kubeconfig); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
