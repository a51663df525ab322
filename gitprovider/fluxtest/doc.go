// Package fluxtest holds the tests in which real Flux (source-controller and
// kustomize-controller of the local control plane) clones, with the
// credential gitprovider installed, a repository on a real Gitea.
package fluxtest
