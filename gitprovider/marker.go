package gitprovider

import (
	"fmt"
	"strings"
)

// markerPrefix starts the description onramp gives its repositories. It is
// how onramp tells its repositories from others: one it did not create is
// never taken, pushed to or deleted.
const markerPrefix = "Managed by onramp: project "

// description is the marked description of project's repository.
func description(project string) string {
	return markerPrefix + project + ". Deleting the project in onramp deletes this repository."
}

// isOnramps reports whether a repository's description marks it as
// project's.
func isOnramps(desc, project string) bool {
	return strings.HasPrefix(desc, markerPrefix+project+".")
}

// deployKeyTitle names the deploy key or token onramp installs.
func deployKeyTitle(project string) string {
	return "onramp-flux-" + project
}

// foreign is the error for a repository that exists and is not onramp's.
func foreign(op, owner, name string) error {
	return newError(op, 409, conflictf("repository %s/%s already exists and was not created by onramp: choose another project name or remove it", owner, name), nil)
}

// notOurs refuses to touch a repository onramp did not create.
func notOurs(op, owner, name string) error {
	return newError(op, 409, conflictf("repository %s/%s was not created by onramp: onramp leaves it alone", owner, name), nil)
}

// conflictf is fmt.Sprintf for conflict messages.
func conflictf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
