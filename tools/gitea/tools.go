//go:build tools

// Package tools pins the Gitea binary that the tests of onramp's external Git
// providers run.
package tools

import _ "code.gitea.io/gitea"
