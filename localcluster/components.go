package localcluster

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// fluxNamespace is where the Flux controllers believe they run
// (RUNTIME_NAMESPACE); it is created by Start.
const fluxNamespace = "flux-system"

// componentNames lists the components in start order.
func componentNames() []string {
	return []string{Etcd, KubeAPIServer, KubeControllerManager, SourceController, KustomizeController}
}

// layout holds the paths and ports of one run of the control plane.
type layout struct {
	binDir, dataDir string
	pki             *pki
	kubeconfig      string

	etcdPort, apiPort, kcmPort               int
	storagePort, scMetricsPort, scHealthPort int
	kcMetricsPort, kcHealthPort              int

	// storageMoved is set when source-controller's storage port differs from
	// the previous run's on this data dir (see staleArtifacts).
	storageMoved bool
}

// portCount is how many ports one run needs (the int fields of layout).
const portCount = 8

// newLayout assigns the ports of a run; previous are the last run's ports.
func newLayout(binDir, dataDir string, p *pki, ports, previous []int) *layout {
	l := &layout{
		binDir: binDir, dataDir: dataDir, pki: p,
		kubeconfig: filepath.Join(dataDir, "kubeconfig"),
		etcdPort:   ports[0], apiPort: ports[1], kcmPort: ports[2],
		storagePort: ports[3], scMetricsPort: ports[4], scHealthPort: ports[5],
		kcMetricsPort: ports[6], kcHealthPort: ports[7],
	}
	l.storageMoved = len(previous) == portCount && previous[3] != l.storagePort
	return l
}

// bin returns the path of a binary.
func (l *layout) bin(name string) string { return filepath.Join(l.binDir, name) }

// dir returns a folder under the data dir.
func (l *layout) dir(name ...string) string {
	return filepath.Join(append([]string{l.dataDir}, name...)...)
}

// addr returns 127.0.0.1:port.
func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// etcdArgs runs a single-member etcd. The peer listener takes port 0 because
// there are no peers; the advertised peer URL stays etcd's default so that
// the member recorded in a reused data dir always matches.
// --unsafe-no-fsync trades durability on power loss (not on process crash)
// for speed: this is disposable development data.
func (l *layout) etcdArgs() []string {
	client := "http://" + addr(l.etcdPort)
	return []string{
		"--name=default",
		"--data-dir=" + l.dir("etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=http://127.0.0.1:0",
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}
}

// apiServerArgs runs kube-apiserver with RBAC, our certificates and no
// endpoint reconciler (Endpoints may not hold a loopback address).
func (l *layout) apiServerArgs() []string {
	pki := l.pki.path
	return []string{
		"--etcd-servers=http://" + addr(l.etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(l.apiPort),
		"--cert-dir=" + l.dir("pki"),
		"--tls-cert-file=" + pki(servingCertFile),
		"--tls-private-key-file=" + pki(servingKeyFile),
		"--client-ca-file=" + pki(caCertFile),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki(saPubFile),
		"--service-account-signing-key-file=" + pki(saKeyFile),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
}

// controllerManagerArgs runs only the controllers deletion and RBAC need:
// namespace (empties and removes Terminating namespaces), garbagecollector
// (ownerReferences, foreground deletion) and clusterrole-aggregation (fills
// the aggregated admin/edit/view ClusterRoles, which Flux's per-namespace
// service accounts are bound to). There is no kubelet or scheduler,
// so workload controllers would achieve nothing. Without
// --authentication-kubeconfig its own endpoints serve only the always-allowed
// /healthz, /readyz and /livez, which is all Start needs, and it does not
// log errors about the missing front-proxy CA every few seconds.
func (l *layout) controllerManagerArgs() []string {
	return []string{
		"--kubeconfig=" + l.kubeconfig,
		"--controllers=namespace,garbagecollector,clusterrole-aggregation",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(l.kcmPort),
		"--tls-cert-file=" + l.pki.path(servingCertFile),
		"--tls-private-key-file=" + l.pki.path(servingKeyFile),
		"--kube-api-qps=500",
		"--kube-api-burst=1000",
		"--profiling=false",
	}
}

// sourceControllerArgs runs source-controller serving artifacts on loopback.
func (l *layout) sourceControllerArgs() []string {
	return []string{
		"--storage-path=" + l.dir("source-controller", "storage"),
		"--storage-addr=" + addr(l.storagePort),
		"--storage-adv-addr=" + addr(l.storagePort),
		"--metrics-addr=" + addr(l.scMetricsPort),
		"--health-addr=" + addr(l.scHealthPort),
		"--enable-leader-election=false",
	}
}

// kustomizeControllerArgs runs kustomize-controller.
func (l *layout) kustomizeControllerArgs() []string {
	return []string{
		"--metrics-addr=" + addr(l.kcMetricsPort),
		"--health-addr=" + addr(l.kcHealthPort),
		"--enable-leader-election=false",
	}
}

// fluxEnv is the environment of both Flux controllers: they read the cluster
// from KUBECONFIG (there is no flag) and want RUNTIME_NAMESPACE.
//
// Each cluster's controllers get a temporary directory of their own:
// kustomize-controller deletes every $TMPDIR/kustomization-* when it starts,
// which in a shared /tmp breaks the builds of clusters already running.
func (l *layout) fluxEnv() []string {
	return []string{"KUBECONFIG=" + l.kubeconfig, "RUNTIME_NAMESPACE=" + fluxNamespace, "TMPDIR=" + l.dir("tmp")}
}

// String summarizes the ports, for the start log.
func (l *layout) String() string {
	return fmt.Sprintf("etcd=%d apiserver=%d controller-manager=%d source-storage=%d", l.etcdPort, l.apiPort, l.kcmPort, l.storagePort)
}
