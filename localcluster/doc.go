// Package localcluster runs a real Kubernetes control plane with real Flux on
// one machine, without Docker: etcd, kube-apiserver, kube-controller-manager
// (namespace, garbage collector and clusterrole aggregation controllers only), and the Flux
// source-controller and kustomize-controller, each a child process bound to
// 127.0.0.1 on ports picked at random and reused across restarts.
//
// Build compiles the pinned binaries from the tools modules in
// tools/localcluster into a user cache directory; Start runs them against a
// data directory that can be reused, so objects survive restarts. `onramp dev`
// uses it directly; tests use the clustertest package. docs/localcluster.md
// explains the layout, the figures and the troubleshooting steps.
package localcluster
