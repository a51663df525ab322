// Package kube creates, checks, watches and deletes the Kubernetes objects
// that make Flux deploy an onramp project: per environment a Namespace, the
// ServiceAccount and RoleBinding Flux applies as, the Git credentials Secret,
// a GitRepository and a Kustomization (docs/kube.md). Objects are typed, built by small constructors, server-side
// applied under the field manager "onramp", and judged the way Flux means
// Ready (Status). docs/kube.md has the details and the figures.
package kube
