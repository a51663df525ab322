//go:build tools

// Package tools pins the Flux controllers the local control plane runs.
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
	_ "github.com/fluxcd/source-controller"
)
